"""Shared fixture for the unit tests: tiny input files written into pytest's tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import json

import pytest
import torch

from helpers import write_file
from regard.data.types import Document
from regard.models import resolve_model


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(name, content)``: write a file under tmp_path (see helpers.write_file) and return its path."""
    return lambda name, content, dedent=True: write_file(tmp_path / name, content, dedent=dedent)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised two-layer BERT cross-encoder saved in the Hugging Face layout."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    folder = tmp_path_factory.mktemp("tiny-ce")
    BertForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_m2(tmp_path_factory):
    """A random one-layer M2-BERT checkpoint (16-dimensional vectors): a fast dense encoder for index tests."""
    from transformers import AutoTokenizer

    from regard.encoders.m2bert import M2BertConfig, M2BertModel, save_checkpoint

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = M2BertConfig(hidden_size=16, num_hidden_layers=1, intermediate_size=32, max_position_embeddings=32,
                          long_conv_l_max=32, hyena_filter_order=8)
    return save_checkpoint(M2BertModel(config).eval(), tmp_path_factory.mktemp("m2"), tokenizer=tokenizer)


@pytest.fixture()
def tiny_mirror(tmp_path, monkeypatch) -> Path:
    """A 40-document BEIR folder named like scifact, with 20 train queries, in a REGARD_DATA mirror."""
    mirror = tmp_path / "mirror" / "scifact"
    (mirror / "qrels").mkdir(parents=True)
    corpus = [Document(f"d{i}", f"document {i} about topic {i % 5} and subject {i % 3}", f"title {i}") for i in range(40)]
    (mirror / "corpus.jsonl").write_text("".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n"
                                                 for d in corpus))
    (mirror / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"topic {i % 5} subject {i % 3}"})
                                                  + "\n" for i in range(20)))
    (mirror / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(20)))
    monkeypatch.setenv("REGARD_DATA", str(mirror.parent))
    return mirror
