"""An interrupted build leaves the target untouched; running it again resumes or rebuilds cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import pytest

import regard.encoders.cache as embedding_cache
from regard import Corpus, Index
from regard.encoders.dense import DenseEncoder
from regard.indexing.atomic import staging_dir

pytestmark = pytest.mark.integration


class SimulatedKill(Exception):
    pass


def _small_corpus(scifact, tmp_path: Path, count: int) -> Path:
    path = tmp_path / "small.jsonl"
    with open(path, "w") as out:
        for doc in islice(iter(scifact.corpus), count):
            out.write(json.dumps({"_id": doc.id, "title": doc.title, "text": doc.text}) + "\n")
    return path


def test_killed_cli_build_leaves_target_intact_then_rebuilds(scifact, tmp_path):
    target = tmp_path / "index"
    small = _small_corpus(scifact, tmp_path, 30)
    Index.build(Corpus(small), target, kind="bm25", backend="bm25s")
    command = [sys.executable, "-m", "regard.cli", "index", "scifact", "--kind", "bm25", "--out", str(target),
               "--overwrite"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # Wherever the kill landed, the target is a complete index: the old one, or the finished new one.
    assert Index.open(target).manifest.document_count in (30, 5183)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert Index.open(target).manifest.document_count == 5183
    assert not staging_dir(target).exists()


def test_interrupted_dense_encoding_resumes_from_saved_shards(scifact, tmp_path, monkeypatch):
    corpus = _small_corpus(scifact, tmp_path, 120)
    monkeypatch.setattr(embedding_cache, "SHARD_SIZE", 40)
    real_encode = DenseEncoder.encode
    calls = []
    interrupt = [True]

    def interrupted_encode(self, texts, *args, **kwargs):
        calls.append(len(texts))
        if interrupt[0] and len(calls) == 2:
            raise SimulatedKill("interrupted while encoding the second shard")
        return real_encode(self, texts, *args, **kwargs)

    monkeypatch.setattr(DenseEncoder, "encode", interrupted_encode)
    target = tmp_path / "dense"
    with pytest.raises(SimulatedKill):
        Index.build(Corpus(corpus), target, kind="dense")
    assert not target.exists() and not staging_dir(target).exists()

    calls.clear()
    interrupt[0] = False
    index = Index.build(Corpus(corpus), target, kind="dense")
    # Shard 1 of 3 was saved before the interrupt; the rerun encodes only shards 2 and 3 .
    assert calls == [40, 40]
    assert index.manifest.document_count == 120 and not staging_dir(target).exists()

    monkeypatch.setattr(DenseEncoder, "encode", real_encode)
    fresh = Index.build(Corpus(corpus), tmp_path / "fresh", kind="dense", use_cache=False)
    query = "cancer cells"
    assert index.retriever(k=10).search(query) == fresh.retriever(k=10).search(query)
