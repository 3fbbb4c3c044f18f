"""Evaluation against values computed by hand with the standard (trec_eval) formulas."""

from __future__ import annotations

from math import log2

import pytest

from regard.data import Qrels, Run
from regard.eval.metrics import evaluate, evaluate_full, parse_metric
from regard.eval.significance import paired_test

METRICS = ("ndcg@10", "recall@3", "map", "mrr")

QRELS = Qrels({
    "q1": {"d1": 2, "d2": 1, "d3": 0, "d5": 1},  # d5 is relevant but never retrieved
    "q2": {"d4": 1, "d6": 2},
    "q3": {"d7": 1},  # judged, but the run has nothing for it: counts 0
    "q4": {"d9": 0},  # no relevant document at all: not evaluated
})

# Distinct scores everywhere, so no tie-breaking convention is involved.
RUN = Run({
    "q1": [("d3", 0.9), ("d1", 0.8), ("d8", 0.7), ("d2", 0.6)],  # d8 is unjudged (non-relevant)
    "q2": [("d6", 0.5), ("d9", 0.4), ("d4", 0.3)],
    "unjudged": [("d1", 1.0)],  # a query without judgments is ignored
})


def dcg(gains: list[float]) -> float:
    """Discounted cumulative gain with gain = grade and discount log2(rank + 1), ranks from 1."""
    return sum(gain / log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg(gains: list[float], judged_grades: list[int]) -> float:
    return dcg(gains) / dcg(sorted(judged_grades, reverse=True))


# By hand, with relevance = grade >= 1.
Q1 = {
    "ndcg@10": ndcg([0, 2, 0, 1], [2, 1, 0, 1]),  # ideal: 2, 1, 1
    "recall@3": 1 / 3,  # d1 of d1, d2, d5
    "map": (1 / 2 + 2 / 4) / 3,  # relevant at ranks 2 and 4; 3 relevant
    "mrr": 1 / 2,
}
Q2 = {
    "ndcg@10": ndcg([2, 0, 1], [1, 2]),
    "recall@3": 2 / 2,
    "map": (1 / 1 + 2 / 3) / 2,
    "mrr": 1.0,
}
Q3 = dict.fromkeys(METRICS, 0.0)


def mean_of(*per_query: dict[str, float]) -> dict[str, float]:
    return {m: sum(q[m] for q in per_query) / len(per_query) for m in METRICS}


def test_hand_computed_values_are_what_we_think():
    # Guard the expected values themselves against typos in the formulas above.
    assert Q1["ndcg@10"] == pytest.approx((2 / log2(3) + 1 / log2(5)) / (2 + 1 / log2(3) + 1 / 2))
    assert Q2["ndcg@10"] == pytest.approx(2.5 / (2 + 1 / log2(3)))
    assert Q1["map"] == pytest.approx(1 / 3) and Q2["map"] == pytest.approx(5 / 6)


def test_evaluate_against_hand_computed_means():
    means = evaluate(RUN, QRELS, metrics=METRICS)
    assert list(means) == list(METRICS)
    assert means == pytest.approx(mean_of(Q1, Q2, Q3), abs=1e-4)


def test_per_query_scores_and_missing_query_counts_zero():
    result = evaluate_full(RUN, QRELS, metrics=METRICS)
    for metric in METRICS:
        assert set(result.per_query[metric]) == {"q1", "q2", "q3"}  # q4 has nothing relevant; "unjudged" no qrels
        assert result.per_query[metric]["q1"] == pytest.approx(Q1[metric], abs=1e-4)
        assert result.per_query[metric]["q2"] == pytest.approx(Q2[metric], abs=1e-4)
        assert result.per_query[metric]["q3"] == 0.0
    assert result.means["mrr"] == pytest.approx((1 / 2 + 1 + 0) / 3, abs=1e-4)


def test_empty_run_scores_zero():
    assert evaluate(Run(), QRELS, metrics=METRICS) == dict.fromkeys(METRICS, 0.0)


def test_default_metrics():
    assert set(evaluate(RUN, QRELS)) == {"ndcg@10", "recall@100", "map"}


def test_relevance_threshold_changes_recall_and_map_but_not_ndcg():
    base = evaluate(RUN, QRELS, metrics=METRICS)
    strict = evaluate(RUN, QRELS, metrics=METRICS, relevance_threshold=2)
    # Only grade 2 counts: q1 -> d1 (rank 2), q2 -> d6 (rank 1); q3 has none and stays 0.
    assert strict["recall@3"] == pytest.approx((1 + 1 + 0) / 3, abs=1e-4)
    assert strict["map"] == pytest.approx((1 / 2 + 1 + 0) / 3, abs=1e-4)
    assert strict["mrr"] == pytest.approx((1 / 2 + 1 + 0) / 3, abs=1e-4)
    assert strict["ndcg@10"] == base["ndcg@10"]
    assert strict["recall@3"] != pytest.approx(base["recall@3"])
    assert strict["map"] != pytest.approx(base["map"])


def test_parse_metric_names():
    assert str(parse_metric("ndcg@10")) == "nDCG@10"
    assert str(parse_metric("recall@100", relevance_threshold=2)) == "R(rel=2)@100"
    assert str(parse_metric("ndcg@10", relevance_threshold=2)) == "nDCG@10"
    assert str(parse_metric("MAP")) == "AP"
    assert str(parse_metric("mrr@10")) == "RR@10"
    with pytest.raises(ValueError, match="unknown metric 'bogus@5'"):
        parse_metric("bogus@5")


def test_ignore_identical_ids_drops_the_query_itself():
    # ArguAna-style: the query's own document comes back first; it is judged relevant but must not count.
    qrels = Qrels({"q1": {"q1": 1, "d1": 1}})
    run = Run({"q1": [("q1", 9.0), ("x", 8.0), ("d1", 7.0)]})
    kept = evaluate(run, qrels, metrics=("mrr", "recall@1"))
    dropped = evaluate(run, qrels, metrics=("mrr", "recall@1"), ignore_identical_ids=True)
    assert kept == pytest.approx({"mrr": 1.0, "recall@1": 1 / 2})
    # Without the self-match d1 is at rank 2; q1 stays in the qrels, so recall is out of 2.
    assert dropped == pytest.approx({"mrr": 1 / 2, "recall@1": 0.0})


def test_ignore_identical_ids_is_harmless_without_self_matches():
    assert evaluate(RUN, QRELS, METRICS, ignore_identical_ids=True) == evaluate(RUN, QRELS, METRICS)


# --- paired significance tests ------------------------------------------------------------------------------


SYSTEM_A = {f"q{i}": 0.1 + 0.05 * (i % 5) for i in range(12)}


def test_identical_systems_are_not_different():
    result = paired_test(SYSTEM_A, dict(SYSTEM_A), metric="ndcg@10")
    assert result.p_ttest == 1.0
    assert result.p_permutation == 1.0
    assert result.delta == 0.0
    assert (result.metric, result.queries) == ("ndcg@10", 12)


def test_clearly_better_system_has_a_small_p_value():
    better = {q: s + 0.3 + 0.01 * (i % 3) for i, (q, s) in enumerate(SYSTEM_A.items())}
    result = paired_test(SYSTEM_A, better)
    assert result.mean_a == pytest.approx(sum(SYSTEM_A.values()) / 12)
    assert result.delta == pytest.approx(0.3 + 0.01 * (4 * 0 + 4 * 1 + 4 * 2) / 12)
    assert result.p_ttest < 1e-6
    # Every query improves: only the all-plus and all-minus sign flips (2 of 2**12) are as extreme.
    assert result.p_permutation < 0.005
    swapped = paired_test(better, SYSTEM_A)
    assert swapped.delta == pytest.approx(-result.delta)
    assert swapped.p_ttest == pytest.approx(result.p_ttest)


def test_mixed_differences_are_not_significant():
    noisy = {q: s + (0.05 if i % 2 else -0.05) for i, (q, s) in enumerate(SYSTEM_A.items())}
    result = paired_test(SYSTEM_A, noisy)
    assert result.p_ttest > 0.5
    assert result.p_permutation > 0.5


def test_paired_test_uses_shared_queries_only_and_is_deterministic():
    b = {"q0": 0.9, "q1": 0.8, "extra": 1.0}
    result = paired_test(SYSTEM_A, b)
    assert result.queries == 2
    assert result.mean_b == pytest.approx(0.85)
    assert paired_test(SYSTEM_A, b) == result
    with pytest.raises(ValueError, match="share no queries"):
        paired_test({"a": 1.0}, {"b": 1.0})
