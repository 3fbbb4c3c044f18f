"""Experiment caches are keyed by the dataset's content and the model revision, not by names alone."""

from __future__ import annotations

import json

import pytest

import regard.models
from regard.data.fingerprint import files_fingerprint
from regard.data.types import Run
from regard.datasets import corpus_fingerprint, load_dataset
from regard.experiments.config import parse_config
from regard.experiments.index_cache import IndexCache
from regard.experiments.runner import Workspace, run_config
from regard.pipeline import Stage
from regard.experiments.stages import register_stage

CALLS: list[str] = []


class _ModelEcho(Stage):
    """Ranks d0..d9 for every query; stands for a stage whose output depends on a model's weights."""

    def __init__(self, model: str):
        self.name = model

    def transform(self, queries, run):
        CALLS.append(self.name)
        return Run({q.id: [(f"d{i}", -float(i)) for i in range(10)] for q in queries})


@register_stage("model-echo", replace=True)
def _model_echo(params, context):
    stage = _ModelEcho(params.get("model", str))
    params.finish()
    return stage


DEFAULT_REVISION = ["v1"]


@register_stage("default-model-echo", replace=True)
def _default_model_echo(params, context):
    """A stage that loads its default model (the config names none) and records it, as the rerankers do."""
    params.finish()
    stage = _ModelEcho("some-org/default-ranker")
    context.record_model("echo", stage.name, DEFAULT_REVISION[0])
    return stage


def _run(tmp_path, text: str):
    config = parse_config(text, "cfg.yaml", default_name="cfg")
    workspace = Workspace(tmp_path / "work")
    return run_config(config, "scifact", workspace, ["ndcg@10"], split="train"), workspace


def _edit_document(mirror, doc_id: str, text: str) -> None:
    corpus = mirror / "corpus.jsonl"
    lines = [json.loads(line) for line in corpus.read_text().splitlines()]
    for record in lines:
        if record["_id"] == doc_id:
            record["text"] = text
    corpus.write_text("".join(json.dumps(r) + "\n" for r in lines))


def test_fingerprint_follows_content_not_name(tiny_mirror, tmp_path):
    before = corpus_fingerprint(load_dataset("scifact"))
    assert corpus_fingerprint(load_dataset("scifact")) == before
    _edit_document(tiny_mirror, "d3", "an edited abstract")
    assert corpus_fingerprint(load_dataset("scifact")) != before
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes((tiny_mirror / "corpus.jsonl").read_bytes())
    assert files_fingerprint([copy]) != files_fingerprint([tiny_mirror / "queries.jsonl"])


def test_an_edited_mirror_gets_a_new_index_and_new_runs(tiny_mirror, tmp_path):
    text = "pipeline: [{bm25: {backend: bm25s, k: 10}}]\n"
    first, workspace = _run(tmp_path, text)
    assert len(workspace.indexes.built) == 1
    # q7 asks for "topic 2 subject 1"; d39 (topic 4, subject 0) becomes the document that says so most.
    _edit_document(tiny_mirror, "d39", "topic 2 subject 1 topic 2 subject 1")
    second, workspace = _run(tmp_path, text)
    assert len(workspace.indexes.built) == 1, "the stale index of the old corpus was reused"
    assert second.provenance["cache"]["stage_outputs_reused"] == 0
    assert second.result.run["q7"][0][0] == "d39" != first.result.run["q7"][0][0]
    folders = sorted(p.name for p in (workspace.root / "indexes").iterdir() if not p.name.startswith("."))
    assert len(folders) == 2 and all(name.startswith("scifact-") for name in folders)
    third, workspace = _run(tmp_path, text)  # unchanged since: everything reused
    assert workspace.indexes.built == [] and third.provenance["cache"]["stage_outputs_computed"] == 0


def test_any_existing_index_is_one_of_the_current_corpus(tiny_mirror, tmp_path):
    cache = IndexCache(tmp_path / "indexes")
    cache.get(load_dataset("scifact"), "bm25", backend="bm25s")
    _edit_document(tiny_mirror, "d1", "changed")
    assert IndexCache(tmp_path / "indexes").any_existing(load_dataset("scifact")) is None


def test_a_new_model_revision_recomputes_the_stage(tiny_mirror, tmp_path, monkeypatch):
    CALLS.clear()
    text = "pipeline: [{model-echo: {model: some-org/ranker}}]\n"
    monkeypatch.setattr(regard.models, "model_revision", lambda name: "snapshot-a")
    _run(tmp_path, text)
    _run(tmp_path, text)
    assert CALLS == ["some-org/ranker"]
    monkeypatch.setattr(regard.models, "model_revision", lambda name: "snapshot-b")
    _run(tmp_path, text)
    assert CALLS == ["some-org/ranker", "some-org/ranker"]


def test_index_folder_changes_with_the_model_revision(tiny_mirror, tmp_path, monkeypatch):
    cache, dataset = IndexCache(tmp_path / "indexes"), load_dataset("scifact")
    monkeypatch.setattr(regard.models, "model_revision", lambda name: "snapshot-a")
    first = cache.folder(dataset, "dense", {"model": "some-org/encoder"})
    monkeypatch.setattr(regard.models, "model_revision", lambda name: "snapshot-b")
    assert cache.folder(dataset, "dense", {"model": "some-org/encoder"}) != first
    assert cache.folder(dataset, "dense", {"model": "some-org/encoder", "batch_size": 8}) == \
        cache.folder(dataset, "dense", {"model": "some-org/encoder"})


def test_training_bm25_index_follows_the_corpus(tiny_mirror):
    from regard.training.data import cached_bm25_index

    first = cached_bm25_index(load_dataset("scifact"), backend="bm25s")
    assert cached_bm25_index(load_dataset("scifact"), backend="bm25s").folder == first.folder
    _edit_document(tiny_mirror, "d39", "topic 2 subject 1 topic 2 subject 1")
    second = cached_bm25_index(load_dataset("scifact"), backend="bm25s")
    assert second.folder != first.folder
    assert second.retriever(k=1).search("topic 2 subject 1")[0][0] == "d39"


def test_a_new_revision_of_a_default_model_recomputes_the_stage(tiny_mirror, tmp_path):
    CALLS.clear()
    text = "pipeline: [{default-model-echo: {}}]\n"
    DEFAULT_REVISION[0] = "v1"
    _run(tmp_path, text)
    _run(tmp_path, text)
    assert CALLS == ["some-org/default-ranker"]
    DEFAULT_REVISION[0] = "v2"  # the default model was updated: the config did not change
    _run(tmp_path, text)
    assert CALLS == ["some-org/default-ranker", "some-org/default-ranker"]


def test_a_fusion_is_recomputed_when_an_input_loads_a_new_revision(tiny_mirror, tmp_path):
    CALLS.clear()
    text = ("pipeline:\n  - rrf:\n      of:\n        - default-model-echo: {}\n"
            "        - model-echo: {model: some-org/other}\n")
    DEFAULT_REVISION[0] = "v1"
    _run(tmp_path, text)
    _run(tmp_path, text)
    assert sorted(CALLS) == ["some-org/default-ranker", "some-org/other"]
    DEFAULT_REVISION[0] = "v2"  # only the default model of one input changed
    _run(tmp_path, text)
    assert CALLS.count("some-org/default-ranker") == 2 and CALLS.count("some-org/other") == 1
    DEFAULT_REVISION[0] = "v1"
