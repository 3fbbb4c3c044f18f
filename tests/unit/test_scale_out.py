"""Encoding and reranking on a local Ray cluster: same vectors and runs as in one process, faults survived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from regard.data.types import Document, Query
from regard.errors import MissingExtraError
from regard.kinds import Index
from regard.scale_out.options import RayOptions
from regard.scale_out.shards import LocalShardMapper

ray = pytest.importorskip("ray")
TWO_WORKERS = RayOptions(workers=2, cpus_per_worker=0.5)
QUERIES = [Query(f"q{i}", f"topic {i % 5} subject {i % 3}") for i in range(12)]


def corpus(count: int = 40) -> list[Document]:
    return [Document(f"d{i}", f"document {i} about topic {i % 5} and subject {i % 3} " * (1 + i % 4), f"title {i}")
            for i in range(count)]


@pytest.fixture(scope="module", autouse=True)
def local_cluster():
    """One small local cluster for the module (2 CPUs), shut down at its end."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of 8 documents, so 40 documents make 5 shards that two workers share."""
    monkeypatch.setattr("regard.encoders.cache.SHARD_SIZE", 8)
    monkeypatch.setattr("regard.indexing.token_store.SHARD_SIZE", 8)


def build_twice(tmp_path, monkeypatch, kind: str, **params) -> tuple[Index, Index]:
    """The same corpus built in this process and on 2 Ray workers, each with its own encoding cache."""
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache-local"))
    local = Index.build(corpus(), tmp_path / "local", kind=kind, **params)
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache-ray"))
    distributed = Index.build(corpus(), tmp_path / "ray", kind=kind, ray=True, workers=2, cpus_per_worker=0.5,
                              **params)
    return local, distributed


def assert_same_top10(first: Index, second: Index) -> None:
    """Same top 10 for every query, up to swaps of documents whose scores differ by less than 1e-4."""
    a, b = first.retriever(k=10)(QUERIES), second.retriever(k=10)(QUERIES)
    for query in QUERIES:
        left, right = a[query.id], b[query.id]
        assert {d for d, _ in left} == {d for d, _ in right}, query.id
        scores = dict(right)
        for docid, score in left:
            assert abs(scores[docid] - score) < 1e-4
        for (d1, _), (d2, _) in zip(left, right):
            if d1 != d2:
                assert abs(scores[d1] - scores[d2]) < 1e-4


def cosines(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = x.astype(np.float64), y.astype(np.float64)
    return (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)


def test_dense_on_two_workers_equals_single_process_build(tiny_m2, tmp_path, monkeypatch, small_shards):
    import faiss

    local, distributed = build_twice(tmp_path, monkeypatch, "dense", model=str(tiny_m2), precision="fp32")
    x, y = (faiss.read_index(str(i.folder / "vectors.faiss")).reconstruct_n(0, 40) for i in (local, distributed))
    assert cosines(x, y).min() >= 0.9999
    assert_same_top10(local, distributed)
    assert distributed.manifest.parameters == local.manifest.parameters


def test_multivector_on_two_workers_equals_single_process_build(tiny_checkpoint, tmp_path, monkeypatch, small_shards):
    from regard.indexing.token_store import TokenStore

    local, distributed = build_twice(tmp_path, monkeypatch, "multivector", model=str(tiny_checkpoint),
                                     precision="fp32")
    x, y = TokenStore(local.folder), TokenStore(distributed.folder)
    assert np.array_equal(x.offsets, y.offsets)
    assert cosines(np.asarray(x.vectors), np.asarray(y.vectors)).min() >= 0.9999
    assert_same_top10(local, distributed)


@pytest.mark.parametrize("ray_restarts", [False, True], ids=["pool-replaces", "ray-restarts"])
def test_workers_killed_mid_job_give_the_same_vectors(tiny_m2, ray_restarts):
    from regard.encoders.select import dense_encoder
    from regard.scale_out.encode import EncoderSpec, RayEncoderMapper

    options = {"model": str(tiny_m2), "precision": "fp32"}
    encoder = dense_encoder(**options)
    texts = encoder.document_texts(corpus())
    shards = [(number, texts[start:start + 4]) for number, start in enumerate(range(0, len(texts), 4))]
    expected = dict(LocalShardMapper(encoder.encode).map_shards(shards))
    mapper = RayEncoderMapper(EncoderSpec(dense_encoder, options), TWO_WORKERS, expected_identity=encoder.identity)
    results, killed = {}, False
    for number, vectors in mapper.map_shards(iter(shards)):
        results[number] = vectors
        if not killed:  # every worker dies with shards in flight
            for actor in mapper.pool.actors:
                ray.kill(actor, no_restart=not ray_restarts)
            killed = True
    assert sorted(results) == list(range(len(shards)))
    for number, vectors in expected.items():
        np.testing.assert_allclose(results[number], vectors, atol=1e-6)
    if not ray_restarts:
        assert mapper.pool.replacements >= 1


DRIVER = textwrap.dedent('''
    import json, sys, time
    import regard.encoders.cache as cache
    from regard.data.types import Document
    from regard.encoders.select import dense_encoder
    from regard.scale_out.encode import EncoderSpec, RayEncoderMapper
    from regard.scale_out.options import RayOptions

    cache.SHARD_SIZE = 4
    model, corpus_file = sys.argv[1], sys.argv[2]

    class SlowEncoder:
        """The tiny model made slow (as a real one is), so that the driver can be killed mid-job."""
        def __init__(self, **options):
            self.inner = dense_encoder(**options)
            self.identity = self.inner.identity
        def encode(self, texts):
            time.sleep(0.4)
            return self.inner.encode(texts)

    from regard.indexing.docstore import DocStore
    documents = DocStore(corpus_file)
    options = {"model": model, "precision": "fp32"}
    encoder = dense_encoder(**options)
    mapper = RayEncoderMapper(EncoderSpec(SlowEncoder, options), RayOptions(workers=2, cpus_per_worker=0.5),
                              expected_identity=encoder.identity)
    cache.corpus_embeddings(encoder, documents, "driver-kill-test", shard_mapper=mapper)
    print("finished")
''')


class CountingMapper(LocalShardMapper):
    def __init__(self, encode):
        super().__init__(encode)
        self.shards = 0

    def map_shards(self, shards):
        for item in super().map_shards(shards):
            self.shards += 1
            yield item


def test_killed_driver_resumes_and_encodes_only_the_missing_shards(tiny_m2, tmp_path, monkeypatch):
    from regard.encoders.cache import corpus_embeddings
    from regard.encoders.select import dense_encoder

    from regard.indexing.docstore import DocStore, write_docstore

    documents = corpus()
    corpus_file = tmp_path / "store"  # the docstore both the killed driver and the rerun read
    corpus_file.mkdir()
    write_docstore(documents, corpus_file)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    cache = tmp_path / "cache"
    env = {**os.environ, "REGARD_CACHE": str(cache), "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
           "REGARD_QUIET": "1"}
    driver = subprocess.Popen([sys.executable, str(script), str(tiny_m2), str(corpus_file)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    written: list[Path] = []
    while time.monotonic() < deadline and driver.poll() is None:
        written = list(cache.glob("embeddings/*/shard-*[0-9].npy"))
        if len(written) >= 3:
            break
        time.sleep(0.05)
    assert driver.poll() is None, driver.stdout.read().decode()[-2000:]
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    done = len(list(cache.glob("embeddings/*/shard-*[0-9].npy")))
    total = len(documents) // 4
    assert 3 <= done < total
    assert not list(cache.glob("embeddings/*/embeddings.npy"))

    monkeypatch.setenv("REGARD_CACHE", str(cache))
    monkeypatch.setattr("regard.encoders.cache.SHARD_SIZE", 4)
    encoder = dense_encoder(str(tiny_m2), precision="fp32")
    counting = CountingMapper(encoder.encode)
    vectors = corpus_embeddings(encoder, DocStore(corpus_file), "driver-kill-test", shard_mapper=counting)
    assert counting.shards == total - done
    expected = encoder.encode(encoder.document_texts(documents))
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_reranking_on_two_workers_gives_the_single_process_run(tiny_m2, tiny_checkpoint, tmp_path, monkeypatch):
    from regard.pipeline_spec import PipelineParser

    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    Index.build(corpus(), tmp_path / "dense", kind="dense", model=str(tiny_m2), precision="fp32")
    expression = f"{tmp_path / 'dense'} % 10 >> ce(cache=false,precision=fp32):{tiny_checkpoint}"
    local = PipelineParser(k=20).parse(expression)(QUERIES)
    parser = PipelineParser(k=20, scale_out=TWO_WORKERS)
    distributed_pipeline = parser.parse(expression)
    try:
        distributed = distributed_pipeline(QUERIES)
    finally:
        parser.close()
    assert list(distributed) == list(local)
    for query in QUERIES:
        assert [d for d, _ in distributed[query.id]] == [d for d, _ in local[query.id]]
        np.testing.assert_allclose([s for _, s in distributed[query.id]], [s for _, s in local[query.id]],
                                   rtol=0, atol=1e-6)


def test_config_run_with_ray_gives_the_single_process_run(tiny_checkpoint, tiny_mirror, tmp_path):
    """``regard run CONFIG --ray --workers 2``: the cross-encoder stage on Ray workers, the same run file."""
    from click.testing import CliRunner

    from regard.cli.main import cli

    config = tmp_path / "ce.yaml"
    config.write_text(f"pipeline:\n  - bm25: {{backend: bm25s}}\n  - cutoff: 10\n"
                      f"  - cross-encoder: {{model: {tiny_checkpoint}, precision: fp32}}\n")
    outputs = {}
    for name, extra in (("local", []), ("ray", ["--ray", "--workers", "2", "--cpus-per-worker", "0.5"])):
        out = tmp_path / name
        result = CliRunner().invoke(cli, ["--quiet", "run", str(config), "--dataset", "scifact", "--split", "train",
                                          "--cache-dir", str(tmp_path / f"work-{name}"), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output + repr(result.exception)
        outputs[name] = out
    [local_run] = outputs["local"].glob("*.trec")
    [ray_run] = outputs["ray"].glob("*.trec")
    local_lines = [line.split() for line in local_run.read_text().splitlines()]
    ray_lines = [line.split() for line in ray_run.read_text().splitlines()]
    assert len(local_lines) == 20 * 10
    assert [line[:4] for line in ray_lines] == [line[:4] for line in local_lines]
    np.testing.assert_allclose([float(line[4]) for line in ray_lines], [float(line[4]) for line in local_lines],
                               rtol=0, atol=1e-5)
    models = json.loads((outputs["ray"] / "provenance.json").read_text())
    assert "workers" in json.dumps(models)


def test_a_wrong_reranker_parameter_fails_on_the_driver(tiny_m2, tiny_checkpoint, tmp_path, monkeypatch):
    from regard.pipeline_spec import PipelineParser, PipelineSpecError

    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    Index.build(corpus(), tmp_path / "dense", kind="dense", model=str(tiny_m2), precision="fp32")
    with pytest.raises(PipelineSpecError, match="no_such_option"):
        PipelineParser(scale_out=TWO_WORKERS).parse(f"{tmp_path / 'dense'} >> ce(no_such_option=1):{tiny_checkpoint}")


def test_without_ray_the_error_names_the_extra(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regard.cli.main import cli

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"regard\[ray\]"):
        Index.build(corpus(), tmp_path / "x", kind="dense", ray=True)
    result = CliRunner().invoke(cli, ["index", str(tmp_path), "--kind", "dense", "--ray", "--out", str(tmp_path / "y")])
    assert result.exit_code != 0 and "regard[ray]" in (result.output + str(result.exception))
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_ray_applies_only_to_encoding_kinds(tmp_path):
    from regard.errors import RegardError

    with pytest.raises(RegardError, match="bm25"):
        Index.build(corpus(), tmp_path / "x", kind="bm25", ray=True)


def test_lucene_search_survives_ray_in_the_same_process(tmp_path):
    """Ray's failure signal handler would replace the JVM's SIGSEGV handler: the search after it crashed."""
    script = tmp_path / "both.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        from regard import Index
        from regard.data import Query
        from regard.scale_out.ray_runtime import ensure_ray
        corpus = {str(tmp_path / "c.jsonl")!r}
        with open(corpus, "w") as out:
            for i in range(50):
                out.write(json.dumps({{"_id": f"d{{i}}", "text": f"protein folding note {{i}}"}}) + "\\n")
        index = Index.build(corpus, {str(tmp_path / "idx")!r}, kind="bm25")
        queries = [Query(str(i), "protein folding") for i in range(40)]
        print(len(index.retriever(k=5)(queries)))
        ray = ensure_ray()
        ray.shutdown()
        for _ in range(3):
            print(len(index.retriever(k=5)(queries)))
    """))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "RAY_ADDRESS")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["40"] * 4
