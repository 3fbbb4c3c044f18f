"""SEAL's scoring: n-gram weights from LM and corpus probabilities, and the intersective document score.

From "Autoregressive Search Engines: Generating Substrings as Document Identifiers" (Bevilacqua et
al., 2022). For a query ``q`` and a generated n-gram ``n``:

- ``P(n|q)`` is the LM's probability of ``n`` (the product of its tokens' conditional probabilities);
- ``P(n) = (F(n) + s) / (N + s)`` is its smoothed unconditional probability, ``F(n)`` its corpus count,
  ``N`` the corpus tokens, ``s`` the smoothing (5, the authors' released setting);
- ``w(n, q) = max(0, log [P(n|q) (1 - P(n))] / [P(n) (1 - P(n|q))])``: how much more likely the LM
  makes ``n`` than the corpus does.

A document ``d`` collects the n-grams ``K(d)`` it contains, taken in decreasing weight, with an
occurrence that overlaps the positions of a heavier n-gram's occurrence skipped (non-overlapping) and
each n-gram counted once; then

    W(d, q) = sum over n in K(d) of  w(n, q)^alpha * cover(n, K(d)),
    cover(n, K) = 1 - beta + beta * |set(n) minus tokens of the heavier n-grams of K| / |set(n)|,

the repetition discount: an n-gram whose tokens the heavier ones already hold counts ``1 - beta``.
``alpha = 2`` and ``beta = 0.8`` are the authors' settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from regard.errors import RegardError
from regard.indexing.fmindex import FMIndex

SMOOTHING, ALPHA, BETA = 5.0, 2.0, 0.8
MAX_OCCURRENCES = 10_000
_BELOW_ONE = 1e-10  # P(n|q) = 1 would make the odds infinite


@dataclass(frozen=True)
class ScoredNgram:
    """A generated n-gram: its tokens, log P(n|q), corpus count and SEAL weight (``w(n,q)^alpha``)."""

    tokens: tuple[int, ...]
    logprob: float
    count: int
    weight: float


@dataclass
class DocumentEvidence:
    """The n-grams a document matched (heaviest first) and its intersective score."""

    ngrams: list[ScoredNgram] = field(default_factory=list)
    score: float = 0.0


def unconditional_logprob(count: int, total_tokens: int, smoothing: float = SMOOTHING) -> float:
    """``log P(n) = log (F(n) + s) / (N + s)``."""
    if total_tokens <= 0:
        raise RegardError("the corpus has no tokens")
    return math.log((count + smoothing) / (total_tokens + smoothing))


def ngram_weight(logprob: float, count: int, total_tokens: int, smoothing: float = SMOOTHING) -> float:
    """``w(n, q) = max(0, log [P(n|q) (1 - P(n))] / [P(n) (1 - P(n|q))])`` from ``log P(n|q)`` and counts."""
    if logprob > 0:
        raise RegardError(f"log P(n|q) must be at most 0, got {logprob}")
    conditional = min(logprob, -_BELOW_ONE)
    prior = unconditional_logprob(count, total_tokens, smoothing)
    if prior >= 0.0:  # the n-gram is every corpus token: 1 - P(n) = 0, it tells documents nothing
        return 0.0
    odds = (conditional + math.log1p(-math.exp(prior))) - (prior + math.log1p(-math.exp(conditional)))
    return max(0.0, odds)


def cover(tokens: Sequence[int], covered: set[int], beta: float = BETA) -> float:
    """The repetition discount: ``1 - beta + beta * |set(n) - covered| / |set(n)|``."""
    types = set(tokens)
    if not types:
        raise RegardError("cover of an empty n-gram")
    return 1.0 - beta + beta * len(types - covered) / len(types)


def weigh_ngrams(ngrams: Sequence[tuple[Sequence[int], float]], index: FMIndex, *, alpha: float = ALPHA,
                 smoothing: float = SMOOTHING) -> list[ScoredNgram]:
    """``(tokens, log P(n|q))`` pairs as ScoredNgrams, heaviest first; n-grams absent from the corpus dropped."""
    if alpha <= 0:
        raise RegardError(f"alpha must be positive, got {alpha}")
    total = index.token_count
    scored = []
    for tokens, logprob in ngrams:
        tokens = tuple(int(t) for t in tokens)
        if not tokens:
            continue
        count = index.count(tokens)
        if count == 0:
            continue
        weight = ngram_weight(logprob, count, total, smoothing) ** alpha
        scored.append(ScoredNgram(tokens, float(logprob), count, weight))
    scored.sort(key=lambda n: (-n.weight, n.tokens))
    return scored


def intersective_scores(ngrams: Sequence[ScoredNgram], index: FMIndex, *, beta: float = BETA,
                        max_occurrences: int = MAX_OCCURRENCES) -> dict[int, DocumentEvidence]:
    """SEAL's intersective score of every document holding one of ``ngrams`` (weighted, heaviest first).

    N-grams of weight 0, and those occurring more than ``max_occurrences`` times (too common to
    discriminate, and costly to locate), are left out. Returns document index position → evidence.
    """
    if not 0.0 <= beta <= 1.0:
        raise RegardError(f"beta must lie in [0, 1], got {beta}")
    ordered = sorted(ngrams, key=lambda n: (-n.weight, n.tokens))
    covered_positions: set[int] = set()
    evidence: dict[int, DocumentEvidence] = {}
    for ngram in ordered:
        if ngram.weight <= 0.0 or ngram.count > max_occurrences:
            continue
        starts = np.sort(index.locate(ngram.tokens))
        documents = index.document_of(starts)
        length = len(ngram.tokens)
        for start, document in zip(starts.tolist(), documents.tolist()):
            span = range(start, start + length)
            if any(p in covered_positions for p in span):
                continue
            covered_positions.update(span)
            found = evidence.setdefault(document, DocumentEvidence())
            if not found.ngrams or found.ngrams[-1] is not ngram:
                found.ngrams.append(ngram)
    for found in evidence.values():
        seen: set[int] = set()
        for ngram in found.ngrams:
            found.score += ngram.weight * cover(ngram.tokens, seen, beta)
            seen.update(ngram.tokens)
    return evidence
