"""Cross-encoder stage and training on a tiny BERT built in the test (no downloads, seconds to run)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from regard.data.types import Document, Query, Run
from regard.errors import RegardError
from regard.indexing.docstore import DocStore, write_docstore
from regard.rerank.cross_encoder import CrossEncoder, PairScorer
from regard.training.cross_encoder import group_loss
from regard.training.data import Group

DOCS = [
    Document("d1", "p53 is a tumour suppressor mutated in many cancers", "p53"),
    Document("d2", "the mitochondria is the powerhouse of the cell", "cells"),
    Document("d3", "vaccines train the immune system against viruses", "immunity"),
    Document("d4", "insulin regulates blood glucose levels", "diabetes"),
]


@pytest.fixture()
def docstore(tmp_path):
    write_docstore(DOCS, tmp_path)
    return DocStore(tmp_path)


def scorer(path) -> PairScorer:
    return PairScorer.load(str(path), precision="fp32", device="cpu")


def test_checkpoint_is_safetensors_and_truncation_respects_the_model(tiny_checkpoint):
    assert (tiny_checkpoint / "model.safetensors").exists()
    assert scorer(tiny_checkpoint).max_length == 128  # capped by max_position_embeddings


def test_reranked_run_holds_exactly_the_incoming_candidates(tiny_checkpoint, docstore):
    incoming = Run({"q1": [("d1", 3.0), ("d2", 2.0), ("d3", 1.0)], "q2": [("d4", 1.0)]})
    stage = CrossEncoder(docstore, str(tiny_checkpoint), precision="fp32", cache=False)
    queries = [Query("q1", "p53 mutations in cancer"), Query("q2", "blood sugar")]
    out = stage(queries, incoming)
    assert set(out) == {"q1", "q2"}
    assert sorted(out.docids("q1")) == ["d1", "d2", "d3"] and out.docids("q2") == ["d4"]
    expected = scorer(tiny_checkpoint).score(["p53 mutations in cancer"] * 3, [DOCS[i].contents for i in range(3)])
    assert dict(out["q1"]) == pytest.approx(dict(zip(["d1", "d2", "d3"], expected.tolist())), abs=1e-5)


def test_missing_document_is_a_clear_error(tiny_checkpoint, docstore):
    stage = CrossEncoder(docstore, str(tiny_checkpoint), precision="fp32", cache=False)
    with pytest.raises(RegardError, match="'nope'.*not in the docstore|not in the docstore.*'nope'"):
        stage([Query("q1", "x")], Run({"q1": [("d1", 1.0), ("nope", 0.5)]}))


def test_needs_an_incoming_run(tiny_checkpoint, docstore):
    with pytest.raises(RegardError, match="after a retriever"):
        CrossEncoder(docstore, str(tiny_checkpoint), cache=False)([Query("q1", "x")])


def test_scores_are_cached_between_calls(tiny_checkpoint, docstore, tmp_path, monkeypatch):
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    stage = CrossEncoder(docstore, str(tiny_checkpoint), precision="fp32")
    queries, incoming = [Query("q1", "p53")], Run({"q1": [("d1", 1.0), ("d2", 0.5)]})
    first = stage(queries, incoming)

    def refuse(*args, **kwargs):
        raise AssertionError("cached pairs must not be scored again")

    monkeypatch.setattr(stage.scorer, "score", refuse)
    assert stage(queries, incoming) == first


def test_one_training_step_lowers_the_loss(tiny_checkpoint):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    texts = {d.id: d.contents for d in DOCS}
    groups = [Group(Query("q1", "p53 cancer"), "d1", ("d2", "d3", "d4")),
              Group(Query("q2", "blood glucose"), "d4", ("d1", "d2", "d3"))]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def loss(train: bool):
        model.train(train)  # measure without dropout, step with it
        return group_loss(model, tokenizer, groups, texts, 3, random.Random(1), 64, "cpu")

    with torch.no_grad():
        before = float(loss(train=False))
    loss(train=True).backward()
    optimizer.step()
    with torch.no_grad():
        after = float(loss(train=False))
    assert after < before


def test_saved_checkpoint_reloads_and_scores_identically(tiny_checkpoint, tmp_path):
    original = scorer(tiny_checkpoint)
    original.model.save_pretrained(tmp_path / "copy", safe_serialization=True)
    original.tokenizer.save_pretrained(tmp_path / "copy")
    queries, documents = ["p53", "insulin", "virus"], [d.contents for d in DOCS[:3]]
    assert np.array_equal(original.score(queries, documents), scorer(tmp_path / "copy").score(queries, documents))


def test_sentence_transformers_cross_encoder_loads_the_checkpoint(tiny_checkpoint):
    from sentence_transformers import CrossEncoder as STCrossEncoder

    pairs = [("p53", DOCS[0].contents), ("insulin", DOCS[3].contents), ("cells", DOCS[1].contents)]
    theirs = STCrossEncoder(str(tiny_checkpoint), device="cpu").predict(pairs)
    ours = scorer(tiny_checkpoint).score([q for q, _ in pairs], [d for _, d in pairs])
    assert np.allclose(1 / (1 + np.exp(-ours)), theirs, atol=1e-5)  # sentence-transformers applies a sigmoid


def test_trainer_checkpoints_every_epoch_and_resumes(tiny_checkpoint, tiny_mirror, tmp_path, monkeypatch):
    from regard import Index
    from regard.training.cross_encoder import LOG_FILE, STATE_FILE, CrossEncoderTrainer, CrossEncoderTrainingConfig

    mirror = tiny_mirror
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    bm25 = Index.build(mirror, tmp_path / "bm25", kind="bm25", backend="bm25s")
    config = CrossEncoderTrainingConfig(base=str(tiny_checkpoint), epochs=1, negatives=3, groups_per_batch=4,
                                        candidate_depth=10, max_length=64, held_out=0.2, validation_depth=10,
                                        precision="fp32", device="cpu", bm25_index=str(bm25.folder))
    out = tmp_path / "trained"
    CrossEncoderTrainer(config, out).run()
    assert json.loads((out / STATE_FILE).read_text())["epochs_done"] == 1
    assert (out / "model.safetensors").exists() and (out / "last" / "model.safetensors").exists()
    config.epochs = 2
    CrossEncoderTrainer(config, out).run()
    epochs = [json.loads(line)["epoch"] for line in (out / LOG_FILE).read_text().splitlines()]
    assert epochs == [0, 1, 2]  # the rerun trained only the missing epoch
    trained = scorer(out)
    assert trained.max_length == 64  # the checkpoint scores at the length it was trained at
    assert trained.score(["topic 1"], ["document 1"]).shape == (1,)


def test_pipeline_expression_with_a_cross_encoder(tiny_checkpoint, tiny_mirror, tmp_path, monkeypatch):
    from regard import Index
    from regard.pipeline_spec import PipelineParser, PipelineSpecError

    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    bm25 = Index.build(tiny_mirror, tmp_path / "bm25", kind="bm25", backend="bm25s")
    stage = PipelineParser().parse(f"{bm25.folder} % 3 >> ce:{tiny_checkpoint}")
    hits = stage.search("topic 1 subject 2", k=10)
    assert len(hits) == 3 and set(d for d, _ in hits) == set(d for d, _ in bm25.retriever().search("topic 1 subject 2")[:3])
    with pytest.raises(PipelineSpecError, match="needs an index before it"):
        PipelineParser().parse(f"ce:{tiny_checkpoint}")
