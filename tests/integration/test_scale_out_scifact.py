"""A real model on a real corpus: all-MiniLM-L6-v2 over 200 SciFact documents, on 2 Ray workers and in one process,
built through ``regard index`` on a BEIR-layout folder."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from regard.kinds import Index

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def test_dense_index_on_two_workers_has_the_single_process_top10(scifact, tmp_path, monkeypatch, local_cluster):
    """``regard index FOLDER --kind dense --ray --workers 2``: the same vectors and top 10 as without --ray."""
    import faiss
    from click.testing import CliRunner

    from regard.cli.main import cli

    folder = tmp_path / "scifact-200"  # a small BEIR-layout collection
    folder.mkdir()
    with (folder / "corpus.jsonl").open("w") as out:
        for document in itertools.islice(scifact.corpus, 200):
            out.write(json.dumps({"_id": document.id, "title": document.title, "text": document.text}) + "\n")
    monkeypatch.setattr("regard.encoders.cache.SHARD_SIZE", 64)  # 4 shards for 2 workers
    built = {}
    for name, extra in (("local", []), ("ray", ["--ray", "--workers", "2", "--cpus-per-worker", "0.5"])):
        monkeypatch.setenv("REGARD_CACHE", str(tmp_path / f"cache-{name}"))
        result = CliRunner().invoke(cli, ["--quiet", "index", str(folder), "--kind", "dense", "--precision", "fp32",
                                          "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output + repr(result.exception)
        built[name] = Index.open(tmp_path / name)
    local, distributed = built["local"], built["ray"]
    x, y = (faiss.read_index(str(i.folder / "vectors.faiss")).reconstruct_n(0, 200) for i in (local, distributed))
    assert ((x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)).min() >= 0.9999
    queries = scifact.queries("test")
    a, b = local.retriever(k=10)(queries), distributed.retriever(k=10)(queries)
    for query in queries:
        left, right = a[query.id], dict(b[query.id])
        assert {d for d, _ in left} == set(right), query.id
        assert all(abs(right[d] - s) < 1e-4 for d, s in left)
