"""ir_datasets ids (irds:...) for index and eval, offline: a dataset registered from local files through
ir_datasets' own registry and formats (TrecDocs, TrecQueries, TrecQrels over LocalDownload), not a mock."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from regard import Index, evaluate, load_dataset
from regard.cli.main import cli
from regard.irds import official_relevance_threshold

ir_datasets = pytest.importorskip("ir_datasets", reason="the irds extra: pip install 'regard[irds]'")

DATASET_ID = "regard-test/physics"


class _Documentation:
    """A documentation constituent, as ir_datasets' YAML documentation provides: official measures."""

    def documentation(self):
        return {"official_measures": ["nDCG@10", "AP(rel=2)"]}


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecDocs, TrecQrels, TrecQueries
    from ir_datasets.util import LocalDownload

    folder = tmp_path_factory.mktemp("irds-files")
    topics = ["electron spin resonance", "superconducting magnets", "neutron scattering", "plasma waves"]
    docs = "".join(f"<DOC>\n<DOCNO>D{i}</DOCNO>\n<TEXT>\nstudy {i} of {topics[i % 4]} in {'metals' if i % 2 else 'gases'}\n"
                   f"</TEXT>\n</DOC>\n" for i in range(24))
    (folder / "docs.trec").write_text(docs)
    (folder / "topics.trec").write_text("".join(f"<top>\n<num> {n}\n<title> {text}\n<desc> papers on {text}\n"
                                                f"<narr> any study of {text}\n</top>\n\n"
                                                for n, text in enumerate(topics, 1)))
    (folder / "qrels").write_text("".join(f"{n} 0 D{i} {2 if i < 4 else 1}\n"
                                          for n in range(1, 5) for i in range(n - 1, 24, 4)))
    if DATASET_ID not in ir_datasets.registry:
        ir_datasets.registry.register(DATASET_ID, Dataset(
            TrecDocs(LocalDownload(folder / "docs.trec"), path_globs=None),
            TrecQueries(LocalDownload(folder / "topics.trec")),
            TrecQrels(LocalDownload(folder / "qrels"), {0: "not relevant", 1: "related", 2: "relevant"}),
            _Documentation(),
        ))
    return folder


@pytest.fixture(autouse=True)
def _ir_datasets_home(tmp_path, monkeypatch):
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "ir_datasets"))


def test_irds_dataset_reads_documents_queries_graded_qrels_and_threshold(registered):
    data = load_dataset(f"irds:{DATASET_ID}")
    docs = list(data.corpus)
    assert len(docs) == 24 and docs[1].id == "D1" and docs[1].text.strip() == "study 1 of superconducting magnets in metals"
    assert [(q.id, q.text) for q in data.queries()][:2] == [("1", "electron spin resonance"), ("2", "superconducting magnets")]
    assert data.qrels()["1"]["D0"] == 2 and data.qrels()["1"]["D4"] == 1
    assert data.relevance_threshold == 2  # from AP(rel=2) among the official measures
    assert data.cache_name == "irds-regard-test-physics"


def test_official_threshold_defaults_to_one():
    assert official_relevance_threshold({"official_measures": ["nDCG@10", "RR(rel=2)"]}) == 2
    assert official_relevance_threshold({"desc": "no measures"}) == 1 and official_relevance_threshold(None) == 1


def test_index_and_eval_an_irds_id_from_the_command_line(registered, tmp_path):
    runner = CliRunner()
    built = runner.invoke(cli, ["index", f"irds:{DATASET_ID}", "--kind", "bm25", "--backend", "bm25s",
                                "--out", str(tmp_path / "idx")])
    assert built.exit_code == 0, built.output
    assert Index.open(tmp_path / "idx").manifest.document_count == 24
    out = tmp_path / "runs"
    result = runner.invoke(cli, ["eval", "--dataset", f"irds:{DATASET_ID}", "--pipeline", str(tmp_path / "idx"),
                                 "--metrics", "ndcg@10,map", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = load_dataset(f"irds:{DATASET_ID}")
    expected = evaluate(Index.open(tmp_path / "idx").retriever()(data.queries()), data.qrels(), ["ndcg@10", "map"],
                        relevance_threshold=2)
    means = json.loads((out / "metrics.json").read_text())["pipelines"][0]["means"]
    assert means == pytest.approx(expected)
    assert means["map"] != pytest.approx(evaluate(Index.open(tmp_path / "idx").retriever()(data.queries()),
                                                  data.qrels(), ["map"])["map"])  # the threshold matters here


def test_unknown_irds_id_is_one_clear_line():
    result = CliRunner().invoke(cli, ["datasets", "info", "irds:no-such/dataset"])
    assert result.exit_code == 2 and "ir_datasets has no dataset 'no-such/dataset'" in result.output
