"""One tie order everywhere: the run stored, the TREC file written, its re-read and the metric agree."""

from __future__ import annotations

import random

import numpy as np
import pytest

from regard.data import Qrels, Run
from regard.data.trec import read_trec_run, write_trec_run
from regard.eval.metrics import evaluate, evaluate_full
from regard.eval.significance import paired_test


def test_equal_scores_rank_by_docid_descending_as_trec_eval_does():
    run = Run({"q": [("a", 1.0), ("b", 1.0), ("c", 2.0)]})
    assert run.docids("q") == ["c", "b", "a"]


@pytest.mark.parametrize("relevant, expected", [("a", 0.0), ("b", 1.0)])
def test_precision_at_1_reads_the_document_the_run_puts_first(relevant, expected):
    run = Run({"q": [("a", 1.0), ("b", 1.0)]})
    assert evaluate(run, Qrels({"q": {relevant: 1}}), metrics=["p@1"])["p@1"] == expected
    first = run.docids("q")[0]
    assert (first == relevant) == (expected == 1.0)


def test_written_and_reread_run_evaluates_like_the_stored_one(tmp_path):
    rng = random.Random(7)
    docids = [f"d{i}" for i in range(40)]
    # Scores from a set of three values: ties everywhere, as RRF produces them.
    run = Run({f"q{q}": [(d, rng.choice([0.5, 0.25, 1 / 3])) for d in rng.sample(docids, 25)] for q in range(20)})
    qrels = Qrels({f"q{q}": {d: rng.choice([0, 1, 2]) for d in rng.sample(docids, 12)} for q in range(20)})
    path = tmp_path / "run.trec"
    write_trec_run(run, path)
    reread = read_trec_run(path)
    assert reread == run
    # Rank column in the file is the stored order.
    written = [line.split() for line in path.read_text().splitlines()]
    for qid in run:
        assert [row[2] for row in written if row[0] == qid] == run.docids(qid)
    metrics = ["p@1", "p@5", "ndcg@10", "map", "mrr"]
    assert evaluate(reread, qrels, metrics) == evaluate(run, qrels, metrics)
    # P@5 by hand from the stored order equals the metric: the metric sees the stored ranking.
    by_hand = evaluate_full(run, qrels, ["p@5"]).per_query["p@5"]
    for qid, score in by_hand.items():
        top = run.docids(qid)[:5] if qid in run else []
        assert score == pytest.approx(sum(qrels[qid].get(d, 0) >= 1 for d in top) / 5)


def test_cut_keeps_the_ties_that_rank_first():
    run = Run({"q": [("a", 1.0), ("b", 1.0), ("c", 1.0)]})
    assert run.cut(2).docids("q") == ["c", "b"]


def test_randomisation_p_value_is_never_zero():
    a = {f"q{i}": 0.0 for i in range(30)}
    b = {f"q{i}": 1.0 for i in range(30)}
    comparison = paired_test(a, b, permutations=999)
    assert comparison.p_permutation == pytest.approx(1 / 1000)


class _FailingRun(Run):
    """A run whose third query cannot be read: stands in for a kill in the middle of writing."""

    def __getitem__(self, qid):
        if qid == "q3":
            raise KeyboardInterrupt
        return super().__getitem__(qid)


def test_a_run_file_is_written_whole_or_not_at_all(tmp_path):
    path = tmp_path / "run.trec"
    path.write_text("earlier contents\n")
    run = _FailingRun({f"q{i}": [("d1", 1.0), ("d2", 0.5)] for i in range(6)})
    with pytest.raises(KeyboardInterrupt):
        write_trec_run(run, path)
    assert path.read_text() == "earlier contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.trec"]


def test_metrics_json_is_written_through_a_rename(tmp_path, monkeypatch):
    import os

    from regard.eval.experiment import PipelineResult, write_results

    run = Run({"q": [("a", 1.0)]})
    result = PipelineResult("bm25", run, evaluate_full(run, Qrels({"q": {"a": 1}}), ["p@1"]), 1.0, 1)
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append(os.path.basename(b)), real_replace(a, b))[1])
    write_results([result], tmp_path, "d", "test", ["p@1"])
    assert set(renamed) == {"bm25.trec", "metrics.json"}
    assert json_of(tmp_path / "metrics.json")["pipelines"][0]["covered_queries"] == 1


def json_of(path):
    import json

    return json.loads(path.read_text())


def test_evaluation_reports_and_warns_about_judged_queries_the_run_misses(caplog):
    qrels = Qrels({"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}, "q4": {"d": 0}})
    partial = Run({"q1": [("a", 1.0)]})
    with caplog.at_level("WARNING", logger="regard"):
        full = evaluate_full(partial, qrels, ["p@1"])
    assert (full.judged_queries, full.covered_queries, full.complete) == (3, 1, False)
    assert full.means["p@1"] == pytest.approx(1 / 3)  # trec_eval -c: the missing queries count as 0
    assert "covers 1 of 3 judged queries" in caplog.text and "restricted_to" in caplog.text
    restricted = evaluate_full(partial, qrels.restricted_to(partial.qids()), ["p@1"])
    assert restricted.complete and restricted.means["p@1"] == 1.0


def test_a_complete_run_gives_no_coverage_warning(caplog):
    with caplog.at_level("WARNING", logger="regard"):
        evaluation = evaluate_full(Run({"q1": [("a", 1.0)]}), Qrels({"q1": {"a": 1}}), ["p@1"])
    assert evaluation.complete and "covers" not in caplog.text


def test_run_is_stored_compactly_and_reads_back_as_pairs():
    import sys

    docids = [f"doc{i}" for i in range(1000)]
    run = Run({f"q{q}": [(d, float(i)) for i, d in enumerate(docids)] for q in range(20)})
    assert run["q3"][0] == ("doc999", 999.0) and len(run["q3"]) == 1000
    assert run.scores("q3")[0] == 999.0 and not run.scores("q3").flags.writeable
    # Per entry: a list slot (the docid string is shared) and 8 bytes of float64, not a tuple and a float.
    per_query = sys.getsizeof(run._docids["q3"]) + run._scores["q3"].nbytes
    assert per_query < 1000 * 20
    assert run.cut(10) == Run({q: hits[:10] for q, hits in run.items()})
    assert run.to_dict()["q0"]["doc5"] == 5.0


def test_from_ranked_takes_rankings_in_the_toolkit_order_and_refuses_others():
    pairs = [("b", 3.0), ("z", 2.0), ("a", 2.0), ("c", 1.0)]
    built = Run.from_ranked({"q": (["b", "z", "a", "c"], np.array([3.0, 2.0, 2.0, 1.0], dtype=np.float32))})
    assert built == Run({"q": pairs}) and built["q"] == pairs
    for docids, scores in ((["b", "a", "z", "c"], [3.0, 2.0, 2.0, 1.0]), (["b", "z"], [2.0, 3.0]),
                           (["b", "b"], [1.0, 1.0]), (["b"], [1.0, 0.5])):
        with pytest.raises(ValueError, match="'q'"):
            Run.from_ranked({"q": (docids, np.array(scores))})
