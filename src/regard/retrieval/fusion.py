"""Fusion of several runs: reciprocal-rank fusion and weighted score fusion."""

from __future__ import annotations

from collections.abc import Sequence as Seq

from regard.data.types import Query, Run
from regard.pipeline import Stage

RRF_K = 60


def reciprocal_rank_fusion(runs: Seq[Run], k: int = RRF_K, depth: int = 1000) -> Run:
    """Fuse runs by ``sum(1 / (k + rank))`` over the runs that retrieved a document (ranks from 1).

    Cormack, Clarke and Buettcher (SIGIR 2009); k=60 as in the paper.
    """
    fused: dict[str, dict[str, float]] = {}
    for run in runs:
        for qid, hits in run.items():
            scores = fused.setdefault(qid, {})
            for rank, (docid, _) in enumerate(hits, start=1):
                scores[docid] = scores.get(docid, 0.0) + 1.0 / (k + rank)
    return Run.from_scores(fused).cut(depth)


def weighted_score_fusion(runs: Seq[Run], weights: Seq[float] | None = None, depth: int = 1000) -> Run:
    """Fuse runs by a weighted sum of per-query min-max normalised scores (missing documents add 0)."""
    weights = list(weights) if weights is not None else [1.0] * len(runs)
    if len(weights) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(weights)} weights")
    fused: dict[str, dict[str, float]] = {}
    for run, weight in zip(runs, weights):
        for qid, hits in run.items():
            if not hits:
                continue
            scores = fused.setdefault(qid, {})
            high, low = hits[0][1], hits[-1][1]
            span = high - low
            for docid, score in hits:
                normalised = (score - low) / span if span > 0 else 1.0
                scores[docid] = scores.get(docid, 0.0) + weight * normalised
    return Run.from_scores(fused).cut(depth)


class _Fusion(Stage):
    symbol = "|"

    def __init__(self, *stages: Stage, depth: int = 1000):
        flat: list[Stage] = []
        for stage in stages:
            flat.extend(stage.stages if type(stage) is type(self) and stage._mergeable() else [stage])
        self.stages = flat
        self.depth = depth
        self.name = f" {self.symbol} ".join(s.name for s in flat)

    def _mergeable(self) -> bool:
        return True

    def _runs(self, queries: list[Query], run: Run | None) -> list[Run]:
        return [stage.transform(queries, run) for stage in self.stages]


class ReciprocalRankFusion(_Fusion):
    """Runs every child stage on the same input and fuses their runs with RRF."""

    def __init__(self, *stages: Stage, k: int = RRF_K, depth: int = 1000):
        self.k = k
        super().__init__(*stages, depth=depth)

    def _mergeable(self) -> bool:
        return self.k == RRF_K and self.depth == 1000

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        return reciprocal_rank_fusion(self._runs(queries, run), k=self.k, depth=self.depth)


class WeightedScoreFusion(_Fusion):
    """Runs every child stage and fuses their min-max normalised scores with the given weights."""

    symbol = "+"

    def __init__(self, stages: Seq[Stage], weights: Seq[float] | None = None, depth: int = 1000):
        self.weights = list(weights) if weights is not None else [1.0] * len(stages)
        super().__init__(*stages, depth=depth)
        if len(self.weights) != len(self.stages):
            raise ValueError(f"{len(self.stages)} stages but {len(self.weights)} weights")
        self.name = " + ".join(f"{w:g}*{s.name}" for w, s in zip(self.weights, self.stages))

    def _mergeable(self) -> bool:
        return False

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        return weighted_score_fusion(self._runs(queries, run), self.weights, depth=self.depth)
