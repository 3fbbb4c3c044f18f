"""Listwise LLM reranking (RankGPT prompt): one call over all candidates, or the sliding-window baseline.

``window=None`` ranks every candidate in one call, the full-window ranking of "Sliding Windows Are Not
the End"; ``window=20, step=10`` is RankGPT's sliding window, moved from the bottom of the list to the
top so that good documents can climb. The model answers with a permutation of passage identifiers,
read by ``parse_permutation``: unknown and repeated identifiers are dropped and the identifiers it
leaves out follow in their incoming order, so the output always holds exactly the incoming candidates.
"""

from __future__ import annotations

import re
from typing import Protocol

from regard.data.types import Query
from regard.rerank.llm.cost import QueryCost
from regard.rerank.docs import DocumentSource
from regard.lm.causal import CausalLM, Generation, Message
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM
from regard.rerank.llm_stage import DEFAULT_MAX_WORDS, LLMReranker, scores_from_order

SYSTEM = "You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query."
TOKENS_PER_IDENTIFIER = 6  # "[12] > " is 4 to 6 tokens in common tokenizers
_NUMBER = re.compile(r"\d+")


class Generator(Protocol):
    """A backend that continues a chat: CausalLM or OpenAICompatible."""

    name: str

    def generate(self, messages: list[Message], max_new_tokens: int) -> Generation: ...


def ranking_messages(query: str, passages: list[str]) -> list[Message]:
    """The RankGPT conversation for ranking ``passages`` (numbered from 1) for ``query``."""
    count = len(passages)
    messages: list[Message] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"I will provide you with {count} passages, each indicated by number "
                                    f"identifier []. \nRank the passages based on their relevance to query: {query}."},
        {"role": "assistant", "content": "Okay, please provide the passages."},
    ]
    for number, passage in enumerate(passages, start=1):
        messages.append({"role": "user", "content": f"[{number}] {passage}"})
        messages.append({"role": "assistant", "content": f"Received passage [{number}]."})
    messages.append({"role": "user", "content": (
        f"Search Query: {query}. \nRank the {count} passages above based on their relevance to the search query. "
        "The passages should be listed in descending order using identifiers. The most relevant passages should "
        "be listed first. The output format should be [] > [], e.g., [1] > [2]. Only response the ranking "
        "results, do not say any word or explain.")})
    return messages


def parse_permutation(text: str, count: int) -> tuple[list[int], int]:
    """0-based order of ``count`` passages from a generated answer, and how many identifiers were usable.

    Identifiers are the numbers in the text (1-based); out-of-range and repeated ones are ignored, and
    passages never named are appended in their original order.
    """
    order: list[int] = []
    seen: set[int] = set()
    for match in _NUMBER.finditer(text):
        index = int(match.group()) - 1
        if 0 <= index < count and index not in seen:
            seen.add(index)
            order.append(index)
    usable = len(order)
    order.extend(i for i in range(count) if i not in seen)
    return order, usable


def sliding_windows(count: int, window: int | None, step: int) -> list[tuple[int, int]]:
    """[start, stop) windows from the bottom of a ``count``-long list to the top; one when ``window`` is None."""
    if window is None or window >= count:
        return [(0, count)]
    windows, stop = [], count
    while True:
        start = max(stop - window, 0)
        windows.append((start, stop))
        if start == 0:
            return windows
        stop -= step


class Listwise(LLMReranker):
    """Listwise reranking by a generating LLM (a hub name or path, a CausalLM, or an OpenAICompatible).

    ``parsed`` counts, over all calls, the identifiers the model produced that were usable and the
    identifiers that were expected, so a table can say how often the model followed the format.
    """

    def __init__(self, docs: DocumentSource, model: str | Generator = DEFAULT_INSTRUCT_LLM, *,
                 window: int | None = None, step: int = 10, max_words: int | None = DEFAULT_MAX_WORDS,
                 max_new_tokens: int | None = None, device: str | None = None, precision: str = "auto",
                 trust_remote_code: bool = False):
        super().__init__(docs, max_words)
        if window is not None and (window < 2 or not 1 <= step < window):
            raise ValueError(f"need window >= 2 and 1 <= step < window, got window={window}, step={step}")
        self.llm = model if not isinstance(model, str) else CausalLM.load(
            model, device=device, precision=precision, trust_remote_code=trust_remote_code)
        self.window, self.step, self.max_new_tokens = window, step, max_new_tokens
        self.parsed = {"usable": 0, "expected": 0}
        kind = "full" if window is None else f"window={window}, step={step}"
        self.name = f"Listwise({self.llm.name.split('/')[-1]}, {kind})"

    def rerank_one(self, query: Query, docids: list[str], texts: list[str],
                   record: QueryCost) -> list[tuple[str, float]]:
        order = list(range(len(docids)))
        for start, stop in sliding_windows(len(docids), self.window, self.step):
            inside = order[start:stop]
            permutation = self._rank(query.text, [texts[i] for i in inside], record)
            order[start:stop] = [inside[j] for j in permutation]
        return scores_from_order([docids[i] for i in order])

    def _rank(self, query: str, passages: list[str], record: QueryCost) -> list[int]:
        budget = self.max_new_tokens or TOKENS_PER_IDENTIFIER * len(passages) + 8
        answer = self.llm.generate(ranking_messages(query, passages), budget)
        record.forward_passes += answer.generated_tokens or 1  # one prefill, then one pass per further token
        record.prompt_tokens += answer.prompt_tokens
        record.generated_tokens += answer.generated_tokens
        permutation, usable = parse_permutation(answer.text, len(passages))
        self.parsed["usable"] += usable
        self.parsed["expected"] += len(passages)
        return permutation
