"""In-context reranking (ICR): relevance read from an LLM's attention, in two forward passes per query.

After "Attention in Large Language Models Yields Efficient Zero-Shot Re-Rankers" (Chen et al., 2024):
the candidates are listed in the prompt in reverse order of the incoming ranking (the top candidate
nearest the query), the query follows them, and a document's score is the attention from the query
tokens to the document's tokens, averaged over query tokens and summed over heads and layers. A
second pass with the content-free query "N/A" measures the attention each token draws regardless of
the query; it reuses the KV cache of the shared prefix (instruction and documents), so only the
query part is recomputed. The calibrated score of a document sums, over its tokens, query attention
minus N/A attention, leaving out tokens whose difference lies more than two standard deviations
below the document's mean (the reference implementation's default, "masked N/A calibration").
"""

from __future__ import annotations

from dataclasses import dataclass

from regard.data.types import Query
from regard.rerank.llm.cost import QueryCost
from regard.rerank.docs import DocumentSource
from regard.rerank.llm.attention import QueryRowAttention, register
from regard.lm.causal import CausalLM
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM
from regard.rerank.llm_stage import DEFAULT_MAX_WORDS, LLMReranker, scores_from_order

INSTRUCTION = "Here are some paragraphs:"
QUESTION = "Please find information that are relevant to the following query in the paragraphs above."
CALIBRATION_QUERY = "N/A"
SEPARATOR = "\n\n"


@dataclass
class ICRPrompt:
    """Token ids of the shared prefix (instruction and documents) and where each document lies in it."""

    prefix: list[int]
    spans: list[tuple[int, int]]  # per document, in prompt order: [start, stop) within prefix


class ICR(LLMReranker):
    """The ICR reranking stage.

    ``calibrate=False`` gives uncalibrated ICR (query attention alone, one pass). Documents are cut to
    ``max_words`` words; a candidate list too long for the model's context (or ``max_context``) is
    split into consecutive groups that each fit, each reranked on its own, groups kept in incoming order.
    """

    def __init__(self, docs: DocumentSource, model: str | CausalLM = DEFAULT_INSTRUCT_LLM, *, calibrate: bool = True,
                 max_words: int | None = DEFAULT_MAX_WORDS, reverse: bool = True, max_context: int | None = None,
                 device: str | None = None, precision: str = "auto", trust_remote_code: bool = False):
        super().__init__(docs, max_words)
        attention = register()
        if isinstance(model, CausalLM):
            self.llm = model
            self.llm.model.set_attn_implementation(attention)
        else:
            self.llm = CausalLM.load(model, device=device, precision=precision, attention=attention,
                                     trust_remote_code=trust_remote_code)
        self.calibrate, self.reverse = calibrate, reverse
        self.max_context = min(max_context or self.llm.context_length, self.llm.context_length)
        self._before, self._after = self.llm.user_turn_parts()
        self.name = f"ICR({self.llm.name.split('/')[-1]}{'' if calibrate else ', uncalibrated'})"

    def rerank_one(self, query: Query, docids: list[str], texts: list[str],
                   record: QueryCost) -> list[tuple[str, float]]:
        tail = self._tail(query.text)
        groups = self._groups([self._document_length(i, t) for i, t in enumerate(texts)], len(tail))
        if len(groups) == 1:
            scores = self._score_group(query.text, [texts[i] for i in groups[0]], record)
            return [(docids[i], float(s)) for i, s in zip(groups[0], scores)]
        order = []
        for group in groups:
            scores = self._score_group(query.text, [texts[i] for i in group], record)
            order.extend(docids[group[j]] for j in sorted(range(len(group)), key=lambda j: -scores[j]))
        return scores_from_order(order)

    def prompt(self, texts: list[str]) -> ICRPrompt:
        """The prefix for ``texts`` (in incoming order); documents appear reversed when ``reverse``."""
        ids = self.llm.encode(self._before + INSTRUCTION)
        separator = self.llm.encode(SEPARATOR, first=False)
        order = list(range(len(texts)))[::-1] if self.reverse else list(range(len(texts)))
        spans: list[tuple[int, int] | None] = [None] * len(texts)
        for number, i in enumerate(order, start=1):
            ids += separator
            document = self.llm.encode(f"[{number}] {texts[i]}", first=False)
            spans[i] = (len(ids), len(ids) + len(document))
            ids += document
        return ICRPrompt(prefix=ids, spans=spans)

    def _tail(self, query_text: str) -> list[int]:
        return self.llm.encode(f"{SEPARATOR}{QUESTION}{SEPARATOR}Query: {query_text.strip()}{self._after}", first=False)

    def _document_length(self, number: int, text: str) -> int:
        return len(self.llm.encode(f"{SEPARATOR}[{number + 1}] {text}", first=False))

    def _groups(self, lengths: list[int], tail: int) -> list[list[int]]:
        """Consecutive candidate groups whose prompts fit the context (one group when all fit)."""
        budget = self.max_context - len(self.llm.encode(self._before + INSTRUCTION)) - max(tail, 32)
        groups, current, used = [], [], 0
        for i, length in enumerate(lengths):
            if current and used + length > budget:
                groups.append(current)
                current, used = [], 0
            current.append(i)
            used += length
        return groups + [current]

    def _score_group(self, query_text: str, texts: list[str], record: QueryCost) -> list[float]:
        import torch
        from transformers import DynamicCache

        prompt = self.prompt(texts)
        start = len(prompt.prefix)
        tail = self._tail(query_text)
        cache = DynamicCache()  # plain layers keep every position, so the prefix can be cut back out
        with torch.inference_mode():
            ids = torch.tensor([prompt.prefix + tail], device=self.llm.device)
            with QueryRowAttention(start, start + len(tail)) as with_query:
                self.llm.model(input_ids=ids, past_key_values=cache if self.calibrate else None,
                               use_cache=self.calibrate, logits_to_keep=1)
            record.forward_passes += 1
            record.prompt_tokens += ids.shape[1]
            if not self.calibrate:
                return [float(with_query.total[a:b].sum()) for a, b in prompt.spans]
            cache.crop(start - cache.get_seq_length())  # a negative count removes the query part
            calibration = self._tail(CALIBRATION_QUERY)
            ids = torch.tensor([calibration], device=self.llm.device)
            with QueryRowAttention(start, start + len(calibration)) as without_query:
                self.llm.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            record.forward_passes += 1
            record.prompt_tokens += ids.shape[1]
        return [masked_calibrated_score(with_query.total[a:b], without_query.total[a:b]) for a, b in prompt.spans]


def masked_calibrated_score(query_attention, calibration_attention) -> float:
    """Sum over tokens of (query − N/A) attention, leaving out tokens more than 2 std below the mean."""
    difference = query_attention - calibration_attention
    if difference.numel() < 2:
        return float(difference.sum())
    keep = difference > difference.mean() - 2 * difference.std()
    return float((difference * keep).sum())
