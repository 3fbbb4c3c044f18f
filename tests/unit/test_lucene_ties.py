"""Lucene hits are cut at k in the toolkit's order, whatever Lucene's internal order of tied documents."""

from __future__ import annotations

from types import SimpleNamespace

from regard.data.types import Query
from regard.indexing import lucene
from regard.indexing.lucene import LuceneBM25


class _Searcher:
    """Hits in a given internal order (as Lucene returns ties: by internal document number)."""

    def __init__(self, hits: list[tuple[str, float]]):
        self.hits, self.depths = hits, []

    def batch_search(self, texts, qids, k, threads):
        self.depths.append(k)
        ordered = sorted(self.hits, key=lambda h: -h[1])  # stable: internal order among ties
        return {qid: [SimpleNamespace(docid=d, score=s) for d, s in ordered[:k]] for qid in qids}


def _search(hits, k):
    stage = LuceneBM25.__new__(LuceneBM25)
    stage.searcher, stage.threads = _Searcher(hits), 1
    return stage.search([Query("q", "text")], k)["q"], stage.searcher.depths


def test_the_top_k_does_not_depend_on_the_internal_order_of_ties(monkeypatch):
    monkeypatch.setattr(lucene, "_TIE_MARGIN", 2)
    hits = [("a", 3.0)] + [(f"t{i:02d}", 2.0) for i in range(12)] + [("z", 1.0)]
    first, depths = _search(hits, k=3)
    shuffled, _ = _search(hits[:1] + hits[1:13][::-1] + hits[13:], k=3)
    assert first == shuffled == [("a", 3.0), ("t11", 2.0), ("t10", 2.0)]
    assert depths == [5, 10, 20]  # deeper only while ties at the k-th score reach the last hit


def test_no_deeper_search_without_ties_at_the_cut():
    hits = [(f"d{i}", float(10 - i)) for i in range(10)]
    top, depths = _search(hits, k=3)
    assert top == [("d0", 10.0), ("d1", 9.0), ("d2", 8.0)] and depths == [3 + lucene._TIE_MARGIN]
