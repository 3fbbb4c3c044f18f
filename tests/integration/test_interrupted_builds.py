"""An interrupted build leaves the target untouched; running it again resumes or rebuilds cleanly."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from itertools import islice
from pathlib import Path

import pytest

import regard.encoders.cache as embedding_cache
from regard import Corpus, Index
from regard.encoders.dense import DenseEncoder
from regard.indexing.atomic import staging_dirs
from regard.locks import lock_path
from regard.models import resolve_model

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
    assert staging_dirs(target) == []


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
    assert not target.exists() and staging_dirs(target) == []

    calls.clear()
    interrupt[0] = False
    index = Index.build(Corpus(corpus), target, kind="dense")
    # Shard 1 of 3 was saved before the interrupt; the rerun encodes only shards 2 and 3 .
    assert calls == [40, 40]
    assert index.manifest.document_count == 120 and staging_dirs(target) == []

    monkeypatch.setattr(DenseEncoder, "encode", real_encode)
    fresh = Index.build(Corpus(corpus), tmp_path / "fresh", kind="dense", use_cache=False)
    query = "cancer cells"
    assert index.retriever(k=10).search(query) == fresh.retriever(k=10).search(query)


# A build in its own process. mode "kill": it blocks (for the test to SIGKILL it) on its second encoded
# shard, or, for kinds that encode nothing, when it is about to write the manifest (payload complete in the
# staging folder, the target not yet replaced). mode "count": it runs to the end and reports how many
# shards it had to encode.
BUILD_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path

    mode, kind, corpus, target, marker, params, shard_size = sys.argv[1:8]
    import regard.encoders.cache as embedding_cache
    import regard.indexing.token_store as token_store
    from regard.encoders.dense import DenseEncoder
    from regard.encoders.multivector import TokenEncoder
    from regard.kinds import Index
    from regard.indexing.manifest import Manifest

    embedding_cache.SHARD_SIZE = token_store.SHARD_SIZE = int(shard_size)
    calls = []

    def block():
        Path(marker).write_text("blocked")
        while True:
            time.sleep(1)

    def counted(real):
        def wrapper(self, *args, **kwargs):
            calls.append(len(args[0]))
            if mode == "kill" and len(calls) == 2:
                block()
            return real(self, *args, **kwargs)
        return wrapper

    DenseEncoder.encode = counted(DenseEncoder.encode)
    TokenEncoder.encode_documents = counted(TokenEncoder.encode_documents)
    if mode == "kill" and kind in ("bm25", "ngram"):
        Manifest.write = lambda self, folder: block()
    index = Index.build(corpus, target, kind=kind, overwrite=True, **json.loads(params))
    print(json.dumps({"calls": len(calls), "documents": index.manifest.document_count,
                      "parameters": index.manifest.parameters}))
""")

MINILM = resolve_model("sentence-transformers/all-MiniLM-L6-v2").location
KINDS = [  # (kind, build parameters, shard size: encoding kinds are killed after their first shard)
    ("bm25", {"backend": "lucene"}, 8),
    ("bm25", {"backend": "bm25s"}, 8),
    ("dense", {}, 8),
    ("dense-chunked", {"chunk_tokens": 64, "overlap": 16}, 32),
    ("multivector", {}, 8),
    ("muvera", {"r_reps": 2}, 8),
    ("ngram", {"model": MINILM}, 8),  # a WordPiece tokenizer stands in for the LM's: the builder needs only that
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind, params, shard_size", KINDS,
                         ids=[f"{kind}-{params.get('backend', '')}".rstrip("-") for kind, params, _ in KINDS])
def test_sigkill_during_any_build_leaves_the_target_and_a_rerun_resumes(scifact, tmp_path, monkeypatch, kind, params,
                                                                       shard_size):
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))  # nothing encoded by another test is reused
    target = tmp_path / "index"
    (tmp_path / "old").mkdir()
    old = Index.build(Corpus(_small_corpus(scifact, tmp_path / "old", 5)), target, kind=kind, **params)
    before = _snapshot(target)
    corpus = _small_corpus(scifact, tmp_path, 24)
    script, marker = tmp_path / "build.py", tmp_path / "blocked"
    script.write_text(BUILD_SCRIPT)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}

    def command(mode: str) -> list[str]:
        return [sys.executable, str(script), mode, kind, str(corpus), str(target), str(marker), json.dumps(params),
                str(shard_size)]

    process = subprocess.Popen(command("kill"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not marker.exists():
        process.kill()
        pytest.fail(f"the build never reached the kill point: {process.communicate()[1][-2000:]}")
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert _snapshot(target) == before  # the old index, byte for byte
    assert Index.open(target).manifest.document_count == old.manifest.document_count == 5
    assert staging_dirs(target)  # the killed build's staging folder is still there ...

    finished = subprocess.run(command("count"), capture_output=True, text=True, env=env, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["documents"] == Index.open(target).manifest.document_count == 24
    assert staging_dirs(target) == [] and not lock_path(target).exists()  # ... and the rerun cleared it
    if kind not in ("bm25", "ngram"):
        encoded = report["parameters"].get("chunks", 24)
        shards = math.ceil(encoded / shard_size)
        assert report["calls"] == shards - 1, "the rerun should encode every shard but the one saved before the kill"
