"""Distilled Sentence Embedding on tiny models built in the test."""

from __future__ import annotations

import random

import pytest
import torch

from regard.data.types import Query
from regard.encoders.distill import DistillationConfig, distillation_loss, distill
from regard.training.data import Group

TEXTS = {"d1": "p53 tumour suppressor cancer", "d2": "mitochondria energy cell", "d3": "vaccines immune system",
         "d4": "insulin glucose blood"}
GROUPS = [Group(Query("q1", "p53 cancer"), "d1", ("d2", "d3", "d4")),
          Group(Query("q2", "blood glucose"), "d4", ("d1", "d2", "d3"))]
TEACHER = {(g.query.text, d): (5.0 if d == g.positive else -2.0 + i) for g in GROUPS for i, d in enumerate(TEXTS)}


@pytest.fixture()
def tiny_student(tiny_checkpoint, tmp_path):
    """A sentence-transformers bi-encoder (tiny BERT + mean pooling) saved as a folder."""
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(0)
    encoder = models.Transformer(str(tiny_checkpoint), max_seq_length=64)
    pooling = models.Pooling(encoder.get_word_embedding_dimension(), pooling_mode="mean")
    folder = tmp_path / "student"
    SentenceTransformer(modules=[encoder, pooling], device="cpu").save(str(folder))
    return folder


@pytest.mark.parametrize("loss", ["margin-mse", "regression"])
def test_one_distillation_step_lowers_the_loss(tiny_student, loss):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_student), device="cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def current(train: bool):
        model.train(train)
        return distillation_loss(model, GROUPS, TEXTS, TEACHER, loss, 3, random.Random(1), 64)

    with torch.no_grad():
        before = float(current(False))
    current(True).backward()
    optimizer.step()
    with torch.no_grad():
        after = float(current(False))
    assert after < before


def test_distilled_student_is_an_indexable_sentence_transformers_folder(tiny_checkpoint, tiny_student, tiny_mirror,
                                                                         tmp_path, monkeypatch):
    from regard import Index

    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    bm25 = Index.build(tiny_mirror, tmp_path / "bm25", kind="bm25", backend="bm25s")
    config = DistillationConfig(teacher=str(tiny_checkpoint), student=str(tiny_student), epochs=1, negatives=2,
                                groups_per_batch=4, candidate_depth=5, max_length=64, precision="fp32", device="cpu",
                                bm25_index=str(bm25.folder))
    out = distill(config, tmp_path / "distilled")
    assert (out / "model.safetensors").exists() and (out / "distillation.json").exists()
    dense = Index.build(tiny_mirror, tmp_path / "dense", kind="dense", model=str(out), precision="fp32")
    hits = dense.retriever(k=5).search("topic 1 subject 2")
    assert len(hits) == 5 and dense.manifest.model == str(out.resolve())
