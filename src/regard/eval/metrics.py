"""Evaluation with ir-measures (pytrec_eval underneath), averaged as ``trec_eval -c`` does."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import ir_measures

from regard.data.types import Qrels, Run

log = logging.getLogger(__name__)
DEFAULT_METRICS = ("ndcg@10", "recall@100", "map")

_ALIASES = {"ndcg": "nDCG", "recall": "R", "r": "R", "map": "AP", "ap": "AP", "mrr": "RR", "rr": "RR", "p": "P",
            "precision": "P", "success": "Success"}
# Measures whose notion of relevance is binary take the dataset's relevance threshold.
_BINARY = {"R", "AP", "RR", "P", "Success"}


def parse_metric(name: str, relevance_threshold: int = 1):
    """Turn ``ndcg@10``, ``recall@100``, ``map``, ``mrr@10`` or an ir-measures name into a measure."""
    match = re.fullmatch(r"\s*([A-Za-z_]+)\s*(?:@\s*(\d+))?\s*", name)
    if match is None:
        return ir_measures.parse_measure(name)
    base = _ALIASES.get(match.group(1).lower(), match.group(1))
    cutoff = match.group(2)
    text = base
    if base in _BINARY and relevance_threshold != 1:
        text += f"(rel={relevance_threshold})"
    if cutoff:
        text += f"@{cutoff}"
    try:
        return ir_measures.parse_measure(text)
    except (ValueError, NameError):
        raise ValueError(f"unknown metric {name!r}; try ndcg@10, recall@100, map, mrr@10, p@10") from None


@dataclass
class Evaluation:
    """Mean scores per metric, and per-query scores (every judged query, 0 where the run has none).

    ``judged_queries`` counts the queries with a relevant document (the means' denominator) and
    ``covered_queries`` how many of them the run has an entry for.
    """

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]  # metric -> qid -> score
    judged_queries: int = 0
    covered_queries: int = 0

    @property
    def complete(self) -> bool:
        """Whether the run answers every judged query."""
        return self.covered_queries == self.judged_queries

    def coverage_note(self) -> str:
        """One line saying how many judged queries the run covers, and how the rest are counted."""
        note = f"the run covers {self.covered_queries} of {self.judged_queries} judged queries"
        if not self.complete:
            note += ("; the others count as 0 (trec_eval -c). To score only the queries run, evaluate against "
                     "qrels.restricted_to(run.qids())")
        return note


def evaluate_full(run: Run, qrels: Qrels, metrics=DEFAULT_METRICS, relevance_threshold: int = 1,
                  ignore_identical_ids: bool = False, warn_incomplete: bool = True) -> Evaluation:
    """Evaluate ``run`` against ``qrels``; queries without any judged-relevant document are skipped.

    Every other judged query counts, with 0 where the run has none (``trec_eval -c``): right for a
    complete run. A run over some of the queries is scored against all of them, with a logged warning;
    pass ``qrels.restricted_to(run.qids())`` to score only the queries it answers.
    """
    measures = {name: parse_metric(name, relevance_threshold) for name in metrics}
    judged = {q: j for q, j in qrels.items() if any(g > 0 for g in j.values())}
    scored = run.to_dict()
    if ignore_identical_ids:
        scored = {q: {d: s for d, s in hits.items() if d != q} for q, hits in scored.items()}
    scored = {q: hits for q, hits in scored.items() if q in judged}
    covered = sum(q in run for q in judged)
    if warn_incomplete and covered < len(judged):
        log.warning("%s", Evaluation({}, {}, len(judged), covered).coverage_note())
    per_query: dict[str, dict[str, float]] = {name: {q: 0.0 for q in judged} for name in measures}
    by_measure = {measure: name for name, measure in measures.items()}
    for result in ir_measures.iter_calc(list(measures.values()), judged, scored):
        per_query[by_measure[result.measure]][result.query_id] = float(result.value)
    means = {name: (sum(v.values()) / len(v) if v else 0.0) for name, v in per_query.items()}
    return Evaluation(means=means, per_query=per_query, judged_queries=len(judged), covered_queries=covered)


def evaluate(run: Run, qrels: Qrels, metrics=DEFAULT_METRICS, relevance_threshold: int = 1,
             ignore_identical_ids: bool = False) -> dict[str, float]:
    """Mean of each metric over the judged queries, e.g. ``{"ndcg@10": 0.679, ...}``."""
    return evaluate_full(run, qrels, metrics, relevance_threshold, ignore_identical_ids).means
