"""Leaderboard packages: built from a valid run, accepted by their validator; corrupted runs rejected by name."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from click.testing import CliRunner

from helpers import trec_run_text
from regard.cli.main import cli
from regard.submit import ValidationError, build_package, source_from_argument, validate_package
from regard.submit.package import dataset_view


@pytest.fixture
def beir_mirror(tiny_mirror):
    """The tiny scifact mirror with a test split of ten queries (q0..q9, relevant d0..d9)."""
    (tiny_mirror / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                                    "".join(f"q{i}\td{i}\t1\n" for i in range(10)))
    dataset_view.cache_clear()
    yield tiny_mirror
    dataset_view.cache_clear()


def _rows(queries=range(10), docs=12):
    # Query q{i} ranks d{i} first, then others; scores descend.
    rows = []
    for i in queries:
        order = [i] + [j for j in range(docs) if j != i][: docs - 1]
        rows += [(f"q{i}", f"d{j}", float(docs - rank)) for rank, j in enumerate(order)]
    return rows


def _package(tmp_path, run_text: str, **options):
    run = tmp_path / "run.trec"
    run.write_text(run_text)
    return build_package([source_from_argument(f"scifact={run}")], tmp_path / "pkg", "Test BM25", "a test run",
                         ["https://example.org"], **options)


def test_a_valid_run_packages_and_validates(beir_mirror, tmp_path):
    package = _package(tmp_path, trec_run_text(_rows()))
    metadata = validate_package(package)
    entry = metadata["datasets"]["scifact"]
    assert entry["run_file"] == "runs/scifact.trec" and entry["queries"] == 10 and entry["depth"] == 1000
    assert entry["metrics"]["ndcg@10"] == pytest.approx(1.0) and entry["metrics"]["recall@100"] == pytest.approx(1.0)
    assert metadata["model"] == "Test BM25" and metadata["links"] == ["https://example.org"]
    lines = (package / "runs" / "scifact.trec").read_text().splitlines()
    assert lines[0].split() == ["q0", "Q0", "d0", "1", "12.0", "Test_BM25"]


@pytest.mark.parametrize("corrupt, message", [
    (lambda rows: [r for r in rows if r[0] != "q3"], "1 of 10 queries have no results (first missing: q3)"),
    (lambda rows: rows[:5] + [("q0", "d1", 0.5)] + rows[5:], "document 'd1' is listed twice for query q0 (first on line 2)"),
    (lambda rows: rows[:3] + [("q0", "d99", 8.5)] + rows[4:], "document 'd99' is not in the corpus"),
])
def test_corrupted_runs_are_rejected_with_the_problem_named(beir_mirror, tmp_path, corrupt, message):
    with pytest.raises(ValidationError) as caught:
        _package(tmp_path, trec_run_text(corrupt(_rows())))
    assert message in str(caught.value)
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda line: line.replace(" 11.0 ", " eleven "), "run.trec:2: score 'eleven' is not a number"),
    (lambda line: line.replace(" 2 11.0 ", " 5 11.0 "), "run.trec:2: rank 5 of query q0 follows rank 1"),
    (lambda line: line.replace(" 11.0 ", " 99.0 "), "run.trec:2: score 99.0 at rank 2 of query q0 is higher than at rank 1"),
    (lambda line: line.replace(" Q0 ", " "), "run.trec:2: expected 6 columns"),
])
def test_bad_lines_are_named_by_file_and_line(beir_mirror, tmp_path, edit, message):
    lines = trec_run_text(_rows()).splitlines(keepends=True)
    lines[1] = edit(lines[1])
    with pytest.raises(ValidationError) as caught:
        _package(tmp_path, "".join(lines))
    assert message in str(caught.value)
    if "score" in message:  # a bad score is one problem: the ranks after it are still checked against the line before
        assert len(caught.value.problems) == 1, caught.value.problems


def test_a_tampered_package_fails_its_validator(beir_mirror, tmp_path):
    package = _package(tmp_path, trec_run_text(_rows()))
    metadata = json.loads((package / "metadata.json").read_text())
    metadata["datasets"]["scifact"]["metrics"]["ndcg@10"] = 0.99
    (package / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValidationError, match="ndcg@10 is recorded as 0.99 but the run scores 1.000000"):
        validate_package(package)
    (package / "runs" / "scifact.trec").write_text("")
    with pytest.raises(ValidationError, match="10 of 10 queries have no results"):
        validate_package(package)


def test_runs_deeper_than_1000_are_cut_and_non_beir_datasets_refused(beir_mirror, tmp_path):
    package = _package(tmp_path, trec_run_text(_rows(docs=40)))
    assert len((package / "runs" / "scifact.trec").read_text().splitlines()) == 10 * 40  # under 1000: kept
    run = tmp_path / "v.trec"
    run.write_text(trec_run_text(_rows()))
    with pytest.raises(Exception, match="'vaswani' is not a BEIR dataset"):
        build_package([source_from_argument(f"vaswani={run}")], tmp_path / "v", "m", "d")


def test_leaderboard_layout_is_a_zip_of_dataset_runs(beir_mirror, tmp_path):
    archive = _package(tmp_path, trec_run_text(_rows()), layout="beir-leaderboard")
    assert archive.name == "pkg.zip"
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == ["metadata.json", "scifact.run"]
        metadata = json.loads(opened.read("metadata.json"))
    assert metadata["model_name"] == "Test BM25" and metadata["results"]["scifact"]["ndcg@10"] == pytest.approx(1.0)


def test_cli_packages_checks_and_rejects(beir_mirror, tmp_path):
    good, bad = tmp_path / "good.trec", tmp_path / "bad.trec"
    good.write_text(trec_run_text(_rows()))
    bad.write_text(trec_run_text(_rows(queries=range(9))))
    runner = CliRunner()
    made = runner.invoke(cli, ["submit", "package", f"scifact={good}", "--out", str(tmp_path / "p"),
                               "--model", "m", "--description", "d"])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(cli, ["submit", "check", str(tmp_path / "p")])
    assert checked.exit_code == 0 and "scifact: 10 queries, ndcg@10 1.0000" in checked.output
    refused = runner.invoke(cli, ["submit", "package", f"scifact={bad}", "--out", str(tmp_path / "q"),
                                  "--model", "m", "--description", "d"])
    assert refused.exit_code == 2 and "first missing: q9" in refused.output


@pytest.mark.parametrize("layout", ["regard", "beir-leaderboard"])
def test_overwrite_replaces_only_what_regard_wrote(beir_mirror, tmp_path, layout):
    from regard.errors import RegardError

    first = _package(tmp_path, trec_run_text(_rows()), layout=layout)
    with pytest.raises(RegardError, match="pass --overwrite"):
        _package(tmp_path, trec_run_text(_rows()), layout=layout)
    again = _package(tmp_path, trec_run_text(_rows()), layout=layout, overwrite=True)  # a package regard wrote
    assert again == first and again.exists()
    # Something of the user's at --out survives --overwrite, and nothing is left beside it.
    user = tmp_path / ("pkg.zip" if layout == "beir-leaderboard" else "pkg")
    user.unlink() if user.is_file() else shutil.rmtree(user)
    if layout == "regard":
        user.mkdir()
        (user / "thesis.tex").write_text("mine")
    else:
        user.write_bytes(b"my own zip")
    with pytest.raises(RegardError, match="nothing was deleted"):
        _package(tmp_path, trec_run_text(_rows()), layout=layout, overwrite=True)
    assert ((user / "thesis.tex").read_text() == "mine") if layout == "regard" else user.read_bytes() == b"my own zip"
    assert not list(tmp_path.glob(".pkg*"))
