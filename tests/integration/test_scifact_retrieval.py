"""Full retrieval on SciFact test (300 queries): the acceptance figures of the foundation."""

from __future__ import annotations

import pytest

from regard import evaluate

pytestmark = pytest.mark.integration
METRICS = ["ndcg@10", "recall@100", "map"]


def test_lucene_bm25_reproduces_pyserini_beir_flat(scifact, scifact_bm25):
    run = scifact_bm25.retriever(k=1000)(scifact.queries("test"))
    scores = evaluate(run, scifact.qrels("test"), METRICS)
    # pyserini's published BEIR "flat" BM25 reference for SciFact is 0.6789.
    assert scores["ndcg@10"] == pytest.approx(0.6789, abs=0.002)
    assert scores["recall@100"] == pytest.approx(0.925, abs=0.01)
    # Every query is answered; a query matching fewer than 1000 documents returns only those.
    assert len(run) == 300 and max(len(run[q]) for q in run) == 1000


def test_bm25s_backend_is_close_to_lucene(scifact, scifact_bm25s):
    scores = evaluate(scifact_bm25s.retriever()(scifact.queries("test")), scifact.qrels("test"), METRICS)
    assert scores["ndcg@10"] == pytest.approx(0.679, abs=0.015)


@pytest.mark.parametrize("backend", ["lucene", "bm25s"])
def test_bm25_on_several_threads_returns_the_run_of_one_thread(scifact, request, backend):
    index = request.getfixturevalue("scifact_bm25" if backend == "lucene" else "scifact_bm25s")
    queries = scifact.queries("test")
    one = index.retriever(k=1000, threads=1)(queries)
    several = index.retriever(k=1000, threads=3)(queries)
    assert list(several) == list(one)
    assert all(several[q] == one[q] for q in one)


def test_lucene_syntax_in_queries_is_plain_text(scifact_bm25):
    bm25 = scifact_bm25.retriever(k=20)
    plain = bm25.search("p53 cancer tumour", k=20)
    noisy = bm25.search('p53 AND (cancer): "tumour*"', k=20)
    assert plain and noisy == plain


def test_dense_minilm_and_fusion(scifact, scifact_bm25, scifact_dense):
    queries, qrels = scifact.queries("test"), scifact.qrels("test")
    bm25, dense = scifact_bm25.retriever(), scifact_dense.retriever()
    dense_scores = evaluate(dense(queries), qrels, METRICS)
    assert dense_scores["ndcg@10"] >= 0.640  # MTEB reports about 0.645 for all-MiniLM-L6-v2
    fused = evaluate((bm25 | dense)(queries), qrels, METRICS)
    assert fused["ndcg@10"] > max(dense_scores["ndcg@10"], 0.6789)
    reranked = (bm25 % 100 >> dense)(queries)
    assert all(len(reranked[q]) <= 100 for q in reranked)
    assert set(reranked.docids(queries[0].id)) == set(bm25(queries[:1]).cut(100).docids(queries[0].id))


def test_dense_index_records_its_encoder(scifact_dense):
    manifest = scifact_dense.manifest
    assert manifest.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest.document_count == 5183
    assert manifest.parameters["faiss_type"] == "flat"
    assert manifest.parameters["normalize"] is True


def test_lucene_and_dense_queries_without_search_terms_get_empty_rankings(scifact_bm25, scifact_dense, caplog):
    from blank_queries import assert_blank_queries_get_empty_rankings

    for index in (scifact_bm25, scifact_dense):
        caplog.clear()
        assert_blank_queries_get_empty_rankings(index.retriever(k=5), "vitamin D deficiency", caplog)
