"""Any collection: topics and qrels files in their shipped formats, BEIR folders, and both on the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from helpers import tsv
from regard import Index, evaluate, load_dataset
from regard.cli.main import cli
from regard.data import read_qrels_file, read_queries_file, read_trec_run
from regard.datasets import FilesDataset, open_dataset
from regard.errors import InputFormatError, RegardError


@pytest.fixture()
def beir_folder(tmp_path):
    """A 40-document BEIR folder with a test split of 10 queries (grade 2) and a train split."""
    folder = tmp_path / "my collection"
    (folder / "qrels").mkdir(parents=True)
    docs = [(f"d{i}", f"title {i}", f"document {i} about topic {i % 5} and subject {i % 3}") for i in range(40)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": a, "title": b, "text": c}) + "\n" for a, b, c in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"topic {i % 5} subject {i % 3}"})
                                                  + "\n" for i in range(12)))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                               + "".join(f"q{i}\td{i}\t2\nq{i}\td{i + 20}\t1\n" for i in range(10)))
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq11\td11\t1\n")
    return folder


def test_topics_in_trec_tsv_and_jsonl_read_the_same(write):
    trec = write("topics.trec", """\
        <top>
        <num> Number: 7
        <title> vitamin d
        <desc> Description: about vitamins
        </top>
        """)
    tab = write("topics.tsv", tsv(("7", "vitamin d")))
    lines = write("topics.jsonl", '{"_id": "7", "text": "vitamin d"}\n')
    assert read_queries_file(trec) == read_queries_file(tab) == read_queries_file(lines)
    assert read_queries_file(trec)[0].text == "vitamin d"


def test_qrels_in_trec_and_beir_formats_read_the_same(write):
    trec = write("qrels.txt", "7 0 d1 2\n7 0 d2 0\n8 Q0 d3 1\n")
    beir = write("qrels.tsv", tsv(("query-id", "corpus-id", "score"), ("7", "d1", "2"), ("7", "d2", "0"), ("8", "d3", "1")))
    assert read_qrels_file(trec) == read_qrels_file(beir) == {"7": {"d1": 2, "d2": 0}, "8": {"d3": 1}}


def test_unreadable_topics_and_qrels_name_the_file_and_line(write):
    with pytest.raises(InputFormatError, match=r"topics.txt:1"):
        read_queries_file(write("topics.txt", "just words\n"))
    with pytest.raises(InputFormatError, match=r"qrels.txt:1"):
        read_qrels_file(write("qrels.txt", "7 d1\n"))
    with pytest.raises(InputFormatError, match=r"qrels.txt:2 \(field 'grade'\)"):
        read_qrels_file(write("qrels.txt", "7 0 d1 2\n7 0 d2 high\n"))


def test_a_beir_folder_is_a_dataset(beir_folder):
    data = load_dataset(beir_folder)
    assert data.splits() == ["test", "train"] and data.spec.default_split == "test"
    assert [q.id for q in data.queries()] == [f"q{i}" for i in range(10)]
    assert data.qrels("train") == {"q11": {"d11": 1}}
    assert sum(1 for _ in data.corpus) == 40
    assert load_dataset(beir_folder, relevance_threshold=2).relevance_threshold == 2
    other = beir_folder.parent / "elsewhere" / beir_folder.name
    other.parent.mkdir()
    beir_folder.rename(other)
    assert load_dataset(other).cache_name != data.cache_name  # same base name, other folder: other indexes


def test_files_dataset_and_its_errors(beir_folder, write):
    topics = write("topics.tsv", tsv(("q1", "topic 1 subject 1"), ("q2", "topic 2 subject 2"), ("q9", "unjudged")))
    qrels = write("qrels.txt", "q1 0 d1 1\nq2 0 d2 1\n")
    alone = open_dataset(queries=str(topics), qrels=str(qrels))
    assert isinstance(alone, FilesDataset) and [q.id for q in alone.queries()] == ["q1", "q2"]
    with pytest.raises(RegardError, match="without a corpus"):
        alone.corpus
    with_corpus = open_dataset(str(beir_folder), str(topics), str(qrels))
    assert sum(1 for _ in with_corpus.corpus) == 40 and with_corpus.spec.layout == "beir"
    with pytest.raises(RegardError, match="go together"):
        open_dataset(str(beir_folder), queries=str(topics))
    with pytest.raises(RegardError, match="no such folder"):
        load_dataset(str(beir_folder.parent / "missing" / "folder"))


def test_eval_of_a_beir_folder_matches_the_python_api(beir_folder, tmp_path):
    index = Index.build(beir_folder, tmp_path / "idx", kind="bm25", backend="bm25s")
    data = load_dataset(beir_folder, relevance_threshold=2)
    expected = evaluate(index.retriever()(data.queries()), data.qrels(), ["ndcg@10", "recall@100", "map"],
                        relevance_threshold=2, ignore_identical_ids=True)
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["eval", "--dataset", str(beir_folder), "--relevant-grade", "2", "--pipeline",
                                      str(tmp_path / "idx"), "--metrics", "ndcg@10,recall@100,map", "--out", str(out)])
    assert result.exit_code == 0, result.output
    means = json.loads((out / "metrics.json").read_text())["pipelines"][0]["means"]
    assert means == pytest.approx(expected) and 0 < expected["ndcg@10"] < 1


def test_eval_with_topics_and_qrels_files(beir_folder, tmp_path, write):
    """A run file scored on files alone, as TREC DL ships them: qid<TAB>text topics and TREC qrels."""
    Index.build(beir_folder, tmp_path / "idx", kind="bm25", backend="bm25s")
    topics = write("topics.tsv", tsv(*((f"q{i}", f"topic {i % 5} subject {i % 3}") for i in range(10))))
    qrels = write("qrels.txt", "".join(f"q{i} 0 d{i} 2\nq{i} 0 d{i + 20} 1\n" for i in range(10)))
    out = tmp_path / "runs"
    runner = CliRunner()
    first = runner.invoke(cli, ["eval", "--queries", str(topics), "--qrels", str(qrels), "--pipeline",
                                str(tmp_path / "idx"), "--metrics", "ndcg@10,map", "--out", str(out)])
    assert first.exit_code == 0, first.output
    run_file = next(out.glob("*.trec"))
    replay = runner.invoke(cli, ["eval", "--queries", str(topics), "--qrels", str(qrels), "--relevant-grade", "2",
                                 "--pipeline", str(run_file), "--metrics", "ndcg@10,map", "--out", str(tmp_path / "r2")])
    assert replay.exit_code == 0, replay.output
    means = json.loads((tmp_path / "r2" / "metrics.json").read_text())["pipelines"][0]["means"]
    qrels_read = read_qrels_file(qrels)
    assert means == pytest.approx(evaluate(read_trec_run(run_file), qrels_read, ["ndcg@10", "map"],
                                           relevance_threshold=2))
    both = runner.invoke(cli, ["eval", "--queries", str(topics), "--qrels", str(qrels), "--split", "train",
                               "--pipeline", str(run_file)])
    assert both.exit_code == 2 and "--split" in both.output


def test_datasets_info_on_a_folder_and_on_files(beir_folder, write):
    result = CliRunner().invoke(cli, ["datasets", "info", str(beir_folder)])
    assert result.exit_code == 0, result.output
    assert "split test: 10 queries, 20 judgments" in result.output and "split train: 1 queries" in result.output
    topics = write("topics.tsv", tsv(("q1", "a"), ("q2", "b")))
    qrels = write("qrels.txt", "q1 0 d1 1\n")
    files = CliRunner().invoke(cli, ["datasets", "info", "--queries", str(topics), "--qrels", str(qrels)])
    assert files.exit_code == 0 and "split test: 1 queries, 1 judgments" in files.output
