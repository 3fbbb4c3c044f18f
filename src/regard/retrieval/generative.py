"""Generative n-gram retrieval (SEAL): a causal LM generates corpus n-grams for a query, the index maps them to documents.

:class:`ConstrainedDecoder` runs a beam search over n-grams: the prompt is the query (through the
model's chat template when it has one), and at every step only tokens that keep the n-gram inside the
corpus are allowed (the :class:`~regard.indexing.fmindex.FMIndex` continuations of the beam's n-gram).
The first token is any corpus token that starts a word (``first_tokens="word"``) or any corpus token
(``"any"``). Every n-gram kept in a beam at any step, from one token up to ``max_length``, is returned
with ``log P(n|q)``: the sum of its tokens' log-probabilities under the unconstrained LM distribution.
:class:`Generative` weighs those n-grams and scores documents as SEAL does (``retrieval/seal.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regard.data.types import Query, Run, ranked
from regard.errors import RegardError
from regard.indexing.fmindex import FMIndex
from regard.pipeline import Retriever
from regard.retrieval.seal import ALPHA, BETA, MAX_OCCURRENCES, SMOOTHING, intersective_scores, weigh_ngrams

BEAM_SIZE, MAX_LENGTH = 15, 10
DEFAULT_PROMPT = "{query}"
FIRST_TOKENS = ("word", "any")


@dataclass(frozen=True)
class GeneratedNgram:
    """An n-gram the decoder kept: token ids, ``log P(n|q)``, and its suffix-array range."""

    tokens: tuple[int, ...]
    logprob: float
    span: tuple[int, int]


def word_start_tokens(tokenizer) -> np.ndarray:
    """A boolean mask over token ids: does the token begin a word?

    Byte-level BPE marks a leading space with ``Ġ``, SentencePiece with ``▁``; WordPiece marks
    word-internal pieces with ``##`` instead.
    """
    vocabulary = tokenizer.get_vocab()
    mask = np.zeros(max(vocabulary.values()) + 1, dtype=bool)
    pieces = list(vocabulary)
    if any(p.startswith(("Ġ", "▁")) for p in pieces):
        for piece, token in vocabulary.items():
            mask[token] = piece.startswith(("Ġ", "▁"))
    else:
        for piece, token in vocabulary.items():
            mask[token] = not piece.startswith("##")
    return mask


class ConstrainedDecoder:
    """Beam search over corpus n-grams with a causal LM (see the module docstring).

    ``kv_cache`` (default) encodes the prompt once per query and lets the beams extend its KV cache;
    ``kv_cache=False`` re-runs prompt and n-gram for every beam at every step, ``batch_size`` beams per
    forward pass (the decoder before the cache, kept for comparison).
    """

    def __init__(self, llm, index: FMIndex, *, beam_size: int = BEAM_SIZE, max_length: int = MAX_LENGTH,
                 first_tokens: str = "word", prompt: str = DEFAULT_PROMPT, batch_size: int = 16,
                 kv_cache: bool = True):
        if beam_size < 1 or max_length < 1 or batch_size < 1:
            raise RegardError(f"beam_size, max_length and batch_size must be at least 1, "
                              f"got {beam_size}, {max_length}, {batch_size}")
        if first_tokens not in FIRST_TOKENS:
            raise RegardError(f"first_tokens must be one of {', '.join(FIRST_TOKENS)}, got {first_tokens!r}")
        if "{query}" not in prompt:
            raise RegardError(f"the prompt template must contain '{{query}}', got {prompt!r}")
        self.llm, self.index = llm, index
        self.beam_size, self.max_length, self.batch_size = beam_size, max_length, batch_size
        self.prompt, self.kv_cache = prompt, kv_cache
        self.first_tokens = first_tokens
        self._starts = word_start_tokens(llm.tokenizer) if first_tokens == "word" else None

    def prompt_ids(self, query: str) -> list[int]:
        """The token ids the n-grams are generated after."""
        content = self.prompt.replace("{query}", query)
        return self.llm.encode(self.llm.render([{"role": "user", "content": content}]))

    def _first(self, width: int):
        first = self.index.continuations(())
        keep = first.tokens < width
        if self._starts is not None:
            inside = first.tokens < len(self._starts)
            keep &= inside & self._starts[np.minimum(first.tokens, len(self._starts) - 1)]
        return first.tokens[keep], first.ranges[keep]

    def generate(self, query: str) -> list[GeneratedNgram]:
        """Every n-gram kept in the beams for ``query``, in the order they were kept.

        With ``kv_cache`` (the default) the prompt is encoded once and each beam extends the cache by its
        last token; without it every step re-runs prompt and n-gram for every beam (same n-grams and
        log-probabilities up to float rounding, many times slower).
        """
        import torch

        prompt = self.prompt_ids(query)
        beams = [GeneratedNgram((), 0.0, (0, 0))]
        kept: list[GeneratedNgram] = []
        cache = None
        for step in range(self.max_length):
            if not self.kv_cache:
                logits = self.llm.next_token_logits([prompt + list(b.tokens) for b in beams],
                                                    batch_size=self.batch_size)
            elif step == 0:
                logits, cache = self.llm.start_beams(prompt)
            else:
                logits = self.llm.extend_beams(cache, parents, [b.tokens[-1] for b in beams])
            logprobs = torch.log_softmax(logits, dim=-1).numpy()
            candidates: list[tuple[GeneratedNgram, int]] = []
            for parent, (beam, row) in enumerate(zip(beams, logprobs)):
                if beam.tokens:
                    following = self.index.continuations(beam.tokens, span=beam.span)
                    keep = following.tokens < row.shape[0]
                    tokens, ranges = following.tokens[keep], following.ranges[keep]
                else:
                    tokens, ranges = self._first(row.shape[0])
                if not len(tokens):
                    continue
                scores = beam.logprob + row[tokens]
                best = np.argsort(-scores, kind="stable")[:self.beam_size]
                candidates.extend((GeneratedNgram(beam.tokens + (int(tokens[i]),), float(scores[i]),
                                                  (int(ranges[i][0]), int(ranges[i][1]))), parent) for i in best)
            if not candidates:
                break
            candidates.sort(key=lambda c: (-c[0].logprob, c[0].tokens))
            beams = [c[0] for c in candidates[:self.beam_size]]
            parents = [c[1] for c in candidates[:self.beam_size]]
            kept.extend(beams)
        return kept


class Generative(Retriever):
    """SEAL retrieval over an ``ngram`` index: constrained n-gram generation, then intersective scoring.

    ``llm`` is a :class:`~regard.lm.causal.CausalLM` or a model name (default: the model whose
    tokenizer built the index); its tokenizer must be the index's. Given an incoming run the stage
    rescores those documents only (documents without evidence get 0), which keeps it usable after a
    first stage; fusion (``bm25 | generative``) needs no incoming run.
    """

    def __init__(self, index, llm=None, *, k: int = 1000, beam_size: int = BEAM_SIZE, max_length: int = MAX_LENGTH,
                 first_tokens: str = "word", prompt: str = DEFAULT_PROMPT, alpha: float = ALPHA, beta: float = BETA,
                 smoothing: float = SMOOTHING, max_occurrences: int = MAX_OCCURRENCES, device: str | None = None,
                 precision: str = "auto", batch_size: int = 16):
        from regard.indexing.folder import IndexFolder
        from regard.indexing.ngram import open_ngram_index, tokenizer_fingerprint

        if k < 1:
            raise RegardError(f"k must be at least 1, got {k}")
        if smoothing <= 0 or alpha <= 0 or not 0 <= beta <= 1 or max_occurrences < 1:
            raise RegardError(f"need smoothing > 0, alpha > 0, 0 <= beta <= 1 and max_occurrences >= 1; got "
                              f"smoothing={smoothing}, alpha={alpha}, beta={beta}, max_occurrences={max_occurrences}")
        self.index = index if isinstance(index, IndexFolder) else IndexFolder.open(index)
        if self.index.manifest.kind != "ngram":
            raise RegardError(f"{self.index.folder}: a {self.index.manifest.kind} index; generative retrieval "
                              f"needs an ngram index (regard index --kind ngram)")
        self.fm = open_ngram_index(self.index.folder)
        if llm is None or isinstance(llm, str):
            from regard.lm.causal import CausalLM

            llm = CausalLM.load(llm or self.index.manifest.model, device=device, precision=precision)
        expected = self.fm.meta.get("tokenizer_fingerprint")
        if expected and tokenizer_fingerprint(llm.tokenizer) != expected:
            raise RegardError(f"{self.index.folder}: built with the tokenizer of {self.fm.meta.get('tokenizer')!r}; "
                              f"{llm.name!r} has a different vocabulary (rebuild the index with --model {llm.name})")
        self.llm = llm
        self.decoder = ConstrainedDecoder(llm, self.fm, beam_size=beam_size, max_length=max_length,
                                          first_tokens=first_tokens, prompt=prompt, batch_size=batch_size)
        self.k, self.alpha, self.beta, self.smoothing = k, alpha, beta, smoothing
        self.max_occurrences = max_occurrences
        self._ids = self.index.docstore.ids()
        if len(self._ids) != self.fm.document_count:
            raise RegardError(f"{self.index.folder}: n-gram index has {self.fm.document_count} documents, "
                              f"docstore {len(self._ids)}")
        self.name = f"generative({llm.name})"

    def scores(self, text: str) -> dict[str, float]:
        """SEAL scores (docid → score) of every document with evidence for query ``text``."""
        generated = self.decoder.generate(text)
        weighted = weigh_ngrams([(g.tokens, g.logprob) for g in generated], self.fm, alpha=self.alpha,
                                smoothing=self.smoothing)
        evidence = intersective_scores(weighted, self.fm, beta=self.beta, max_occurrences=self.max_occurrences)
        return {self._ids[position]: found.score for position, found in evidence.items()}

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        rankings = {}
        for query in queries:
            scores = self.scores(query.text)
            if run is not None:
                rankings[query.id] = [(docid, scores.get(docid, 0.0)) for docid, _ in run.get(query.id, [])]
            else:
                rankings[query.id] = ranked(scores.items())[:self.k]
        return Run(rankings)
