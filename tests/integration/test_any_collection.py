"""Acceptance on the shared datasets: TREC DL's raw files, and a BM25 k1/b sweep in one eval call."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from regard import evaluate
from regard.cli.main import cli
from regard.datasets import locate
from regard.retrieval.bm25 import BM25

pytestmark = pytest.mark.integration


def test_trec_dl_raw_files_score_the_published_bm25(tmp_path):
    root = locate("dl19")
    if root is None:
        pytest.fail("dl19 not found: set REGARD_DATA to the shared datasets folder")
    raw = root / "raw"
    result = CliRunner().invoke(cli, ["eval", "--queries", str(raw / "topics.dl19-passage.txt"), "--qrels",
                                      str(raw / "qrels.dl19-passage.txt"), "--relevant-grade", "2", "--pipeline",
                                      str(raw / "trec_results_dl19.txt"), "--metrics", "ndcg@10,map",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["pipelines"][0]["queries"] == 43
    assert report["pipelines"][0]["means"]["ndcg@10"] == pytest.approx(0.5058, abs=5e-5)


def test_bm25_k1_b_sweep_in_one_eval_call(scifact, scifact_bm25, tmp_path):
    folder = str(scifact_bm25.folder)
    pipelines = [folder, f"bm25(k1=1.2,b=0.75):{folder}", f"bm25(k1=0.6,b=0.3):{folder}"]
    args = ["eval", "--dataset", "scifact", "--metrics", "ndcg@10", "--out", str(tmp_path)]
    for pipeline in pipelines:
        args += ["--pipeline", pipeline]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    means = [p["means"]["ndcg@10"] for p in json.loads((tmp_path / "metrics.json").read_text())["pipelines"]]
    assert means[0] == pytest.approx(0.6789, abs=5e-5) and len(set(means)) == 3
    expected = evaluate(BM25(scifact_bm25, k1=1.2, b=0.75)(scifact.queries("test")), scifact.qrels("test"),
                        ["ndcg@10"], ignore_identical_ids=True)
    assert means[1] == pytest.approx(expected["ndcg@10"])
