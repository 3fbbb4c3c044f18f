"""The command line end to end: index, search, eval, datasets; determinism and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from regard.cli.main import cli

pytestmark = pytest.mark.integration


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_every_command_has_help():
    for command in ([], ["index"], ["search"], ["eval"], ["datasets"], ["datasets", "list"], ["datasets", "info"],
                    ["datasets", "download"], ["demo"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_index_search_eval_and_identical_reruns(scifact_bm25, tmp_path):
    folder = str(scifact_bm25.folder)
    found = invoke("search", folder, "p53 tumour suppression", "-k", "3")
    assert found.exit_code == 0
    assert len([line for line in found.output.splitlines() if line.startswith("  1 ")]) == 1

    outputs = []
    # The default searches on all cores; the rerun on one thread must write the same bytes.
    for attempt, threads in (("first", []), ("second", ["--threads", "1"])):
        result = invoke("eval", "--dataset", "scifact", "--pipeline", folder, "--out", str(tmp_path / attempt),
                        *threads)
        assert result.exit_code == 0, result.output
        assert "| ndcg@10 |" in result.output.replace("pipeline | ", "")
        outputs.append(tmp_path / attempt)
    first_run = next(outputs[0].glob("*.trec"))
    assert first_run.read_bytes() == (outputs[1] / first_run.name).read_bytes()
    metrics = json.loads((outputs[0] / "metrics.json").read_text())
    assert metrics["pipelines"][0]["means"]["ndcg@10"] == pytest.approx(0.6789, abs=0.002)
    assert len(metrics["pipelines"][0]["per_query"]["ndcg@10"]) == 300


def test_eval_of_a_run_file_matches_the_pipeline(scifact_bm25, tmp_path):
    out = tmp_path / "live"
    assert invoke("eval", "--dataset", "scifact", "--pipeline", str(scifact_bm25.folder), "--out", str(out)).exit_code == 0
    run_file = next(out.glob("*.trec"))
    replay = invoke("eval", "--dataset", "scifact", "--pipeline", str(run_file), "--out", str(tmp_path / "replay"))
    assert replay.exit_code == 0
    live = json.loads((out / "metrics.json").read_text())["pipelines"][0]["means"]
    again = json.loads((tmp_path / "replay" / "metrics.json").read_text())["pipelines"][0]["means"]
    assert again == pytest.approx(live)


def test_bad_corpus_gives_file_line_and_leaves_nothing(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "fine"}\n{"_id": "b", "text": broken}\n')
    out = tmp_path / "index"
    result = CliRunner().invoke(cli, ["index", str(corpus), "--kind", "bm25", "--backend", "bm25s", "--out", str(out)])
    assert result.exit_code == 2
    assert f"{corpus}:2" in result.output and "malformed JSON" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl"]


def test_unknown_dataset_is_a_clear_error():
    result = CliRunner().invoke(cli, ["datasets", "info", "scifakt"])
    assert result.exit_code == 2
    assert "unknown dataset 'scifakt'" in result.output and "scifact" in result.output


def test_datasets_list_and_info():
    listing = invoke("datasets", "list")
    assert listing.exit_code == 0 and "scifact" in listing.output and "vaswani" in listing.output
    info = invoke("datasets", "info", "scifact")
    assert "split test: 300 queries" in info.output and "split train: 809 queries" in info.output
