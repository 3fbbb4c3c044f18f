"""TREC-format collections: Vaswani from its TREC files, and the DL19 reranking slice."""

from __future__ import annotations

import pytest

from regard import Index, evaluate, load_dataset

pytestmark = pytest.mark.integration


def test_vaswani_bm25_from_trec_files(tmp_path):
    data = load_dataset("vaswani")
    queries = data.queries()
    assert len(queries) == 93
    index = Index.build(data, tmp_path / "vaswani", kind="bm25")
    assert index.manifest.document_count == 11429
    scores = evaluate(index.retriever()(queries), data.qrels(), ["ndcg@10", "map"])
    # Lucene BM25 (k1=0.9, b=0.4) measured 0.4368 nDCG@10 and 0.2856 MAP; Terrier's BM25 gets MAP ~0.29-0.30.
    assert scores["ndcg@10"] == pytest.approx(0.437, abs=0.01)
    assert scores["map"] == pytest.approx(0.286, abs=0.01)


def test_dl19_candidates_reproduce_published_bm25():
    data = load_dataset("dl19")
    assert data.relevance_threshold == 2
    scores = evaluate(data.candidates(), data.qrels(), ["ndcg@10"], relevance_threshold=2)
    assert scores["ndcg@10"] == pytest.approx(0.5058, abs=0.0005)
