"""LoCoV1 loader and ``regard eval --dataset loco`` on a small fixture in the published schema.

The fixture is written the way ``huggingface-cli download --repo-type dataset`` lays out
``hazyresearch/LoCoV1-Queries`` and ``hazyresearch/LoCoV1-Documents``: one JSONL file per task under
``documents/``, rows ``{qid, dataset, query, answer_pids}`` and ``{pid, dataset, passage}``.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from regard.cli.main import cli
from regard.datasets import REGISTRY, load_dataset, locate
from regard.errors import RegardError
from regard.kinds import Index
from regard.loco import TASKS, tasks_of

TOPICS = ["meeting budget", "river flood", "court appeal", "python error", "heart study", "solar panel"]


def _write_task(root, task, passages, queries):
    docs_dir = root / "LoCoV1-Documents" / "documents"
    query_dir = root / "LoCoV1-Queries" / "documents"
    docs_dir.mkdir(parents=True, exist_ok=True)
    query_dir.mkdir(parents=True, exist_ok=True)
    doc_rows = [{"pid": pid, "dataset": task, "passage": text} for pid, text in passages]
    query_rows = [{"qid": qid, "dataset": task, "query": text, "answer_pids": answers} for qid, text, answers in queries]
    (docs_dir / f"{task}_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in doc_rows))
    (query_dir / f"{task}_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in query_rows))


@pytest.fixture()
def loco_mirror(tmp_path, monkeypatch):
    """All 12 tasks, 6 long-ish documents and 3 queries each; qasper_title has a null passage."""
    root = tmp_path / "mirror" / "loco"
    for t, task in enumerate(TASKS):
        passages = [(f"{task}_Passage_{i}", " ".join([f"{TOPICS[i]} details section {j}" for j in range(30)]))
                    for i in range(len(TOPICS))]
        if task == "qasper_title":
            passages[5] = (passages[5][0], None)
        queries = [(f"{task}_Query_{i}", f"{TOPICS[(i + t) % 6]}", [f"{task}_Passage_{(i + t) % 6}"]) for i in range(3)]
        _write_task(root, task, passages, queries)
    monkeypatch.setenv("REGARD_DATA", str(root.parent))
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    return root


def test_registry_names_every_task():
    assert tasks_of("loco") == [f"loco/{task}" for task in TASKS] and len(TASKS) == 12
    assert all(name in REGISTRY for name in tasks_of("loco")) and "loco" in REGISTRY
    assert tasks_of("loco/qmsum") == ["loco/qmsum"]


def test_task_loader_reads_the_published_schema(loco_mirror):
    data = load_dataset("loco/qmsum", download_missing=False)
    assert locate("loco/qmsum") == loco_mirror
    docs = list(data.corpus)
    assert [d.id for d in docs] == [f"qmsum_Passage_{i}" for i in range(6)]
    assert docs[1].text.startswith("river flood details")
    queries = data.queries()
    assert [q.id for q in queries] == ["qmsum_Query_0", "qmsum_Query_1", "qmsum_Query_2"]
    shift = TASKS.index("qmsum")
    assert data.qrels()["qmsum_Query_0"] == {f"qmsum_Passage_{shift % 6}": 1}
    assert queries[0].text == TOPICS[shift % 6]
    with pytest.raises(RegardError, match="only the 'test' split"):
        data.qrels("train")


def test_null_passages_are_skipped_with_their_queries(loco_mirror):
    data = load_dataset("loco/qasper_title", download_missing=False)
    corpus = data.corpus
    assert len(list(corpus)) == 5 and corpus.skipped_empty == 1
    # the query whose only answer had no passage drops out (nothing relevant left to find)
    shift = TASKS.index("qasper_title")
    lost = [i for i in range(3) if (i + shift) % 6 == 5]
    assert len(data.queries()) == 3 - len(lost)


def test_parquet_layout_and_rows_filtered_by_dataset_field(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # the hub's parquet conversion: one file per repository holding every task's rows
    root = tmp_path / "loco"
    for repo, rows in (("LoCoV1-Documents", [{"pid": "so_1", "dataset": "stackoverflow", "passage": "python error"},
                                             {"pid": "gr_1", "dataset": "gov_report", "passage": "budget report"},
                                             {"pid": "so_2", "dataset": "stackoverflow", "passage": "solar panel"}]),
                       ("LoCoV1-Queries", [{"qid": "gr_q", "dataset": "gov_report", "query": "budget",
                                            "answer_pids": ["gr_1"]},
                                           {"qid": "so_q", "dataset": "stackoverflow", "query": "python error",
                                            "answer_pids": ["so_1"]}])):
        (root / repo / "default" / "test").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), root / repo / "default" / "test" / "0000.parquet")
    monkeypatch.setenv("REGARD_DATA", str(tmp_path))
    data = load_dataset("loco/stackoverflow", download_missing=False)
    assert [d.id for d in data.corpus] == ["so_1", "so_2"]
    assert data.qrels() == {"so_q": {"so_1": 1}}
    assert [q.text for q in data.queries()] == ["python error"]


def test_missing_task_and_missing_data_are_errors(loco_mirror, tmp_path, monkeypatch):
    for path in loco_mirror.rglob("multifieldqa_test.jsonl"):
        path.unlink()
    with pytest.raises(RegardError, match="no LoCoV1 queries for task 'multifieldqa'"):
        load_dataset("loco/multifieldqa", download_missing=False).queries()
    monkeypatch.setenv("REGARD_DATA", str(tmp_path / "nothing"))
    with pytest.raises(RegardError, match="not available locally"):
        load_dataset("loco/qmsum", download_missing=False)


def test_eval_command_per_task_table_and_average(loco_mirror, tmp_path):
    for name in tasks_of("loco"):
        Index.build(name, tmp_path / "idx" / name / "bm25", kind="bm25", backend="bm25s")
    runner = CliRunner()
    out = tmp_path / "runs"
    result = runner.invoke(cli, ["eval", "--dataset", "loco", "--pipeline", str(tmp_path / "idx/{dataset}/bm25"),
                                 "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| loco/")]
    assert [row.split("|")[1].strip() for row in rows] == tasks_of("loco")
    values = [float(row.split("|")[2]) for row in rows]
    average = float(re.search(r"\| \*\*average\*\* \| \*\*([0-9.]+)\*\*", result.stdout).group(1))
    assert average == pytest.approx(sum(values) / 12, abs=1e-4)
    summary = json.loads((out / "tasks.json").read_text())
    assert set(summary["tasks"]) == set(tasks_of("loco"))
    assert (out / "loco-qmsum" / "metrics.json").exists()
    assert min(values) > 0.5  # each query names its document's topic: BM25 finds it

    single = runner.invoke(cli, ["eval", "--dataset", "loco/qmsum", "--pipeline",
                                 str(tmp_path / "idx/loco/qmsum/bm25"), "--out", str(tmp_path / "one")],
                           catch_exceptions=False)
    assert single.exit_code == 0
    per_task = summary["tasks"]["loco/qmsum"][str(tmp_path / "idx/{dataset}/bm25")]["ndcg@10"]
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["pipelines"][0]["means"]["ndcg@10"] == \
        pytest.approx(per_task)


def test_eval_names_the_missing_index(loco_mirror, tmp_path):
    result = CliRunner().invoke(cli, ["eval", "--dataset", "loco", "--pipeline", str(tmp_path / "none/{task}")])
    assert result.exit_code != 0
    assert "regard index loco/summ_screen_fd" in str(result.exception) + result.output


def test_download_fetches_both_repositories_into_the_cache(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, repo_type=None, local_dir=None, allow_patterns=None, **kwargs):
        calls.append((repo_id, repo_type))
        target = tmp_path / "fetched"
        _write_task(target, "qmsum", [("qmsum_Passage_0", "meeting budget notes")],
                    [("qmsum_Query_0", "budget", ["qmsum_Passage_0"])])
        import shutil

        shutil.copytree(target / repo_id.split("/")[1], local_dir, dirs_exist_ok=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("REGARD_DATA", "")
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    data = load_dataset("loco/qmsum")
    assert sorted(calls) == [("hazyresearch/LoCoV1-Documents", "dataset"), ("hazyresearch/LoCoV1-Queries", "dataset")]
    assert data.root == tmp_path / "cache" / "datasets" / "loco"
    assert [d.id for d in data.corpus] == ["qmsum_Passage_0"] and data.qrels() == {"qmsum_Query_0": {"qmsum_Passage_0": 1}}

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "other"))
    with pytest.raises(RegardError, match="cannot download LoCoV1"):
        load_dataset("loco/gov_report")
    assert not any((tmp_path / "other" / "datasets").iterdir())  # no half download left behind
