"""regard benchmark / run / submit end to end on SciFact and Vaswani with BM25 (Lucene and bm25s)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from regard.cli.main import cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BM25S_CONFIG = """\
name: bm25s
description: BM25 with the bm25s backend
pipeline:
  - bm25: {backend: bm25s}
  - cutoff: 100
"""


def invoke(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    """The benchmark run twice over the same cache: (folder of run 1, folder of run 2, seconds of each)."""
    root = tmp_path_factory.mktemp("bench")
    (root / "bm25s.yaml").write_text(BM25S_CONFIG)
    outputs, seconds = [], []
    for attempt in ("first", "second"):
        started = time.perf_counter()
        result = invoke("benchmark", REPO / "configs" / "bm25.yaml", root / "bm25s.yaml", "--datasets", "scifact,vaswani",
                        "--cache-dir", root / "cache", "--out", root / attempt, "--metrics", "ndcg@10,recall@100,map")
        seconds.append(time.perf_counter() - started)
        assert result.exit_code == 0, result.output
        outputs.append(root / attempt)
    return outputs, seconds, root


def test_reference_figures_are_reproduced(benchmark):
    (first, _), _, _ = benchmark
    summary = json.loads((first / "summary.json").read_text())
    scifact = summary["datasets"]["scifact"]["pipelines"]
    assert scifact["bm25"]["means"]["ndcg@10"] == pytest.approx(0.6789, abs=5e-5)
    assert scifact["bm25s"]["means"]["ndcg@10"] == pytest.approx(0.6762, abs=5e-4)
    assert summary["datasets"]["vaswani"]["pipelines"]["bm25"]["means"]["ndcg@10"] == pytest.approx(0.4368, abs=5e-5)
    assert summary["datasets"]["scifact"]["queries"] == 300 and summary["datasets"]["vaswani"]["queries"] == 93
    assert "versus_baseline" in scifact["bm25s"] and "versus_baseline" not in scifact["bm25"]


def test_second_run_reuses_every_stage_is_faster_and_metrics_are_identical(benchmark):
    (first, second), seconds, _ = benchmark
    for dataset in ("scifact", "vaswani"):
        assert (first / dataset / "metrics.json").read_bytes() == (second / dataset / "metrics.json").read_bytes()
        for run in (first / dataset).glob("*.trec"):
            assert run.read_bytes() == (second / dataset / run.name).read_bytes()
        records = json.loads((second / dataset / "provenance.json").read_text())
        assert all(r["cache"]["stage_outputs_computed"] == 0 for r in records)
        assert all(r["cache"]["stage_outputs_reused"] >= 1 for r in records)
    assert (first / "summary.json").read_bytes() == (second / "summary.json").read_bytes()
    assert seconds[1] < 0.6 * seconds[0], seconds


def test_outputs_per_dataset_and_report(benchmark):
    (first, _), _, _ = benchmark
    metrics = json.loads((first / "scifact" / "metrics.json").read_text())
    assert [p["name"] for p in metrics["pipelines"]] == ["bm25", "bm25s"]
    assert len(metrics["pipelines"][0]["per_query"]["ndcg@10"]) == 300
    record = json.loads((first / "scifact" / "provenance.json").read_text())[0]
    assert record["config"]["hash"] and record["packages"]["pyserini"] and record["hardware"]["cores"]
    assert record["indexes"][0]["documents"] == 5183
    for name in ("report.md", "report.html", "quality_vs_cost.png", "recall_curves.png"):
        assert (first / name).stat().st_size > 500
    assert "| bm25s |" in (first / "report.md").read_text()


def test_submit_bm25_run_is_accepted_and_corrupted_runs_rejected(benchmark):
    _, _, root = benchmark
    ran = invoke("run", REPO / "configs" / "bm25.yaml", "--dataset", "scifact", "--cache-dir", root / "cache",
                 "--out", root / "run-bm25")
    assert ran.exit_code == 0, ran.output
    made = invoke("submit", "package", root / "run-bm25", "--out", root / "package", "--model", "BM25 flat",
                  "--description", "Lucene BM25, BEIR flat", "--link", "https://github.com/castorini/pyserini")
    assert made.exit_code == 0, made.output
    checked = invoke("submit", "check", root / "package")
    assert checked.exit_code == 0 and "scifact: 300 queries, ndcg@10 0.6789, recall@100 0.9253" in checked.output
    metadata = json.loads((root / "package" / "metadata.json").read_text())
    assert metadata["latency_seconds_per_query"]["scifact"] > 0 and metadata["parameters"]["scifact"]["config_hash"]

    lines = (root / "run-bm25" / "bm25.trec").read_text().splitlines(keepends=True)
    first_query = lines[0].split()[0]
    corruptions = {
        "missing query": ([line for line in lines if line.split()[0] != first_query], f"first missing: {first_query}"),
        "duplicate": (lines[:2] + [lines[1]] + lines[2:], "is listed twice for query"),
        "bad score": ([lines[0].replace(lines[0].split()[4], "NaNx")] + lines[1:], "score 'NaNx' is not a number"),
    }
    for name, (corrupted, message) in corruptions.items():
        path = root / f"{name.replace(' ', '-')}.trec"
        path.write_text("".join(corrupted))
        refused = CliRunner().invoke(cli, ["submit", "package", f"scifact={path}", "--out", str(root / f"p-{path.stem}"),
                                           "--model", "m", "--description", "d"])
        assert refused.exit_code == 2 and message in refused.output, (name, refused.output)
