"""Every documented FAISS option (flat, hnsw, ivfpq; --fp16 where it applies) retrieves, rescores an
incoming run and serves dense-chunked indexes; --fp16 with ivfpq is refused; IVF-PQ trains on a sample.
Indexes are encoded with a tiny random M2-BERT (16 dimensions), so every combination builds in a moment."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from regard.cli.main import cli
from regard.data.types import Document, Query, Run
from regard.encoders.m2bert import M2BertEncoder
from regard.errors import RegardError
from regard.indexing import faiss_index
from regard.indexing.faiss_index import FaissOptionError, build_faiss, training_sample
from regard.kinds import Index

OPTIONS = [("flat", False), ("flat", True), ("hnsw", False), ("hnsw", True), ("ivfpq", False)]
WORDS = ("retrieval dense vectors faiss index query answer protein cell tumour gene search ranking "
         "graph network model train sample memory disk").split()
QUERIES = [Query("q1", "dense faiss index"), Query("q2", "protein tumour gene"), Query("q3", "ranking search")]


def _documents(count: int = 60) -> list[Document]:
    return [Document(f"d{i}", " ".join(WORDS[(i * 7 + j * (i % 5 + 1)) % len(WORDS)] for j in range(6 + i % 9)),
                     f"title {i}") for i in range(count)]


@pytest.mark.parametrize("faiss_type,fp16", OPTIONS)
def test_dense_index_retrieves_and_rescores_with_every_option(tmp_path, tiny_m2, faiss_type, fp16):
    docs = _documents()
    index = Index.build(docs, tmp_path / "idx", kind="dense", model=str(tiny_m2), faiss_type=faiss_type, fp16=fp16,
                        precision="fp32", use_cache=False)
    assert (index.manifest.parameters["faiss_type"], index.manifest.parameters["fp16"]) == (faiss_type, fp16)
    retriever = index.retriever(k=10)
    run = retriever(QUERIES)
    encoder = M2BertEncoder(str(tiny_m2), precision="fp32")
    exact = encoder.encode(encoder.document_texts(docs))
    queries = retriever.encoder.encode_queries([q.text for q in QUERIES])
    tolerance = {"flat": 1e-5, "hnsw": 1e-5, "ivfpq": None}[faiss_type] if not fp16 else 2e-3
    for query, vector in zip(QUERIES, queries):
        ranking = run[query.id]
        assert len(ranking) == 10 and len({d for d, _ in ranking}) == 10
        if tolerance is not None:  # flat and HNSW store the vectors: scores are (nearly) exact
            for docid, score in ranking:
                assert score == pytest.approx(float(exact[int(docid[1:])] @ vector), abs=tolerance)
        # rescoring an incoming run (bm25 % N >> dense) scores exactly those documents, as search does
        incoming = Run({query.id: [(d, 1.0 / (r + 1)) for r, (d, _) in enumerate(reversed(ranking))] + [("d59x", 0.0)]})
        rescored = dict(retriever([query], incoming)[query.id])
        assert set(rescored) == {d for d, _ in ranking}
        for docid, score in ranking:
            assert rescored[docid] == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize("faiss_type,fp16", OPTIONS)
def test_dense_chunked_index_with_every_option(tmp_path, tiny_m2, faiss_type, fp16):
    docs = _documents(30)
    index = Index.build(docs, tmp_path / "chunked", kind="dense-chunked", model=str(tiny_m2), chunk_tokens=8,
                        overlap=2, faiss_type=faiss_type, fp16=fp16, precision="fp32", use_cache=False)
    for mode in ("maxp", "firstp", "sumtop"):
        run = index.retriever(k=5, aggregate=mode)(QUERIES)
        assert all(len(run[q.id]) == 5 for q in QUERIES), mode
    retriever = index.retriever(k=5)
    incoming = Run({"q1": [("d3", 1.0), ("d7", 0.5), ("d11", 0.2)]})
    rescored = retriever([QUERIES[0]], incoming)
    assert sorted(rescored.docids("q1")) == ["d11", "d3", "d7"]


def test_search_cli_rescores_bm25_candidates_with_an_ivfpq_index(tmp_path, tiny_m2):
    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("".join(f"{d.id}\t{d.text}\n" for d in _documents()))
    runner = CliRunner()
    for args in (["--kind", "bm25", "--backend", "bm25s", "--out", str(tmp_path / "bm25")],
                 ["--kind", "dense", "--model", str(tiny_m2), "--faiss", "ivfpq", "--precision", "fp32",
                  "--out", str(tmp_path / "ivfpq")]):
        result = runner.invoke(cli, ["index", str(corpus), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["search", f"{tmp_path / 'bm25'} % 20 >> {tmp_path / 'ivfpq'}", "protein gene",
                                 "-k", "5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len([line for line in result.output.splitlines() if line[:3].strip().isdigit()]) == 5


def test_fp16_is_refused_where_it_does_not_apply(tmp_path, tiny_m2):
    with pytest.raises(FaissOptionError, match="--fp16 applies to flat and hnsw"):
        build_faiss(np.eye(4, dtype=np.float32), "ivfpq", fp16=True)
    with pytest.raises(RegardError, match="not ivfpq"):
        Index.build(_documents(5), tmp_path / "idx", kind="dense", model=str(tiny_m2), faiss_type="ivfpq", fp16=True)
    assert not (tmp_path / "idx").exists()
    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("d1\tsome text\n")
    result = CliRunner().invoke(cli, ["index", str(corpus), "--kind", "dense", "--model", str(tiny_m2), "--faiss",
                                      "ivfpq", "--fp16", "--out", str(tmp_path / "cli")])
    assert result.exit_code != 0 and "--fp16 applies to flat and hnsw" in result.output
    assert not (tmp_path / "cli").exists()


def test_ivfpq_trains_on_a_sample(monkeypatch):
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((4000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    monkeypatch.setattr(faiss_index, "TRAINING_POINTS_PER_CENTROID", 4)
    index, params = build_faiss(vectors, "ivfpq")
    assert params["training_vectors"] == 4 * max(params["nlist"], 2 ** params["pq_bits"]) < len(vectors)
    assert index.ntotal == len(vectors)
    _, found = index.search(vectors[:20], 1)
    assert (found[:, 0] == np.arange(20)).mean() >= 0.5  # a trained quantizer still finds most vectors themselves


def test_training_sample_reads_distinct_rows_of_a_memory_mapped_matrix(tmp_path):
    matrix = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype=np.float16, shape=(1000, 4))
    matrix[:] = np.arange(1000, dtype=np.float16)[:, None] / 1000
    sample = training_sample(np.load(tmp_path / "m.npy", mmap_mode="r"), 50)
    assert sample.shape == (50, 4) and sample.dtype == np.float32
    rows = np.round(sample[:, 0] * 1000).astype(int)
    assert len(set(rows.tolist())) == 50
    assert training_sample(matrix, 5000).shape == (1000, 4)


def test_an_ivfpq_index_saved_without_a_direct_map_still_rescores(tmp_path):
    import faiss

    from regard.indexing.faiss_index import load_faiss, save_faiss, stored_vectors

    vectors = np.random.default_rng(2).standard_normal((400, 8)).astype(np.float32)
    index, params = build_faiss(vectors, "ivfpq")
    positions = np.array([3, 150, 399])
    expected = stored_vectors(index, positions)
    faiss.extract_index_ivf(index).set_direct_map_type(faiss.DirectMap.NoMap)  # as indexes built before the map
    save_faiss(index, tmp_path)
    assert np.array_equal(stored_vectors(load_faiss(tmp_path, params), positions), expected)


def test_ivfpq_search_returns_k_documents_when_its_probed_lists_hold_fewer():
    import faiss

    from regard.indexing.faiss_index import search

    vectors = np.random.default_rng(3).standard_normal((3000, 8)).astype(np.float32)
    index, params = build_faiss(vectors, "ivfpq")
    assert params["nprobe"] < params["nlist"]
    _, plain = index.search(vectors[:4], 1000)
    assert ((plain >= 0).sum(axis=1) < 1000).all()  # what FAISS alone returns: only the probed lists
    scores, positions = search(index, vectors[:4], 1000)
    assert ((positions >= 0).sum(axis=1) == 1000).all()
    assert all(len(set(row.tolist())) == 1000 for row in positions)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    allowed = np.arange(0, 3000, 6)  # 500 positions: a selector admitting fewer than k
    _, selected = search(index, vectors[:2], 1000, faiss.IDSelectorBatch(allowed))
    for row in selected:
        assert sorted(row[row >= 0].tolist()) == allowed.tolist()
