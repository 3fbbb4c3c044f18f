"""Lucene BM25 search gives pyserini's batch_search run exactly, on any number of threads.

The reference is the search as regard did it before (pyserini's ``LuceneSearcher.batch_search``, a
``ScoredDoc`` per hit, cut at k in the toolkit's order after asking deeper while ties reach the last
hit), on a small real index whose documents tie in many ways.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest

from regard import Index
from regard.data.types import Document, Query, Run, ranked
from regard.errors import BadIndexError
from regard.indexing.lucene_hits import anserini_scores

pytest.importorskip("pyserini")

# Many matching terms: scores so high (> 128) that float32 cannot hold Anserini's 1e-6 tie steps, so its
# adjusted scores tie in runs longer than 10 and the cut at k must look deeper than k + 10.
RARE = " ".join(f"rare{i}" for i in range(270))


def _corpus() -> list[Document]:
    docs = [Document(f"same{i:02d}", "apple banana cherry") for i in range(30)]  # identical: tied scores
    docs += [Document(i, "apple banana cherry") for i in ("10", "9", "Z", "a", "é", "ß", "日本", "ab", "a-b")]
    docs += [Document(f"long{i}", "apple " * (i % 7 + 1) + "banana date " * (i % 3)) for i in range(40)]
    docs += [Document(f"many{i:02d}", RARE) for i in range(25)]  # identical, very high scores
    docs += [Document(f"other{i}", f"elder fig grape number {i} " + "filler " * (i % 11)) for i in range(60)]
    return docs


QUERIES = [Query("fruit", "apple banana"), Query("one", "cherry"), Query("rare", RARE), Query("mixed", "apple fig"),
           Query("syntax", 'apple AND (banana): "cherry*"'), Query("none", "zzzz unknownword")]


@pytest.fixture(scope="module")
def lucene_index(tmp_path_factory) -> Index:
    return Index.build(_corpus(), tmp_path_factory.mktemp("lucene") / "bm25", kind="bm25")


def _pyserini_run(index: Index, queries: list[Query], k: int, k1: float, b: float) -> Run:
    """regard's Lucene search before it read hits as arrays (pyserini's batch_search, per-hit objects)."""
    from regard.indexing.jvm import pyserini_lucene

    _, searcher_class = pyserini_lucene()
    searcher = searcher_class(str(index.folder / "lucene"))
    searcher.set_bm25(k1, b)
    depth, pending, hits = k + 10, queries, {}
    while pending:
        found = searcher.batch_search([q.text for q in pending], [q.id for q in pending], k=depth, threads=1)
        hits.update({qid: [(hit.docid, hit.score) for hit in results] for qid, results in found.items()})
        pending = [q for q in pending
                   if len(hits[q.id]) >= depth > k and hits[q.id][depth - 1][1] == hits[q.id][k - 1][1]]
        depth *= 2
    return Run({q.id: ranked(hits[q.id])[:k] for q in queries})


@pytest.mark.parametrize("k", [1, 3, 10, 20, 200])
@pytest.mark.parametrize("k1, b", [(0.9, 0.4), (1.2, 0.75)])
def test_the_run_is_pyserinis_on_one_and_several_threads(lucene_index, k, k1, b):
    expected = _pyserini_run(lucene_index, QUERIES, k, k1, b)
    # The cases meant are there (b = 0.75 lowers the long documents' scores to about 80).
    assert expected["rare"][0][1] > (128 if b == 0.4 else 64) and len(expected["fruit"]) == min(k, 79)
    for threads in (1, 2, 3, 8):
        run = lucene_index.retriever(k=k, k1=k1, b=b, threads=threads)(QUERIES)
        assert list(run) == list(expected)
        for qid in expected:
            assert run[qid] == expected[qid], (qid, threads)


def test_an_index_built_on_two_threads_gives_the_same_run(lucene_index, tmp_path):
    threaded = Index.build(_corpus(), tmp_path / "bm25-2", kind="bm25", threads=2)
    for k in (3, 50):
        assert threaded.retriever(k=k, threads=2)(QUERIES) == lucene_index.retriever(k=k)(QUERIES)


def test_an_index_without_the_saved_id_order_sorts_it_when_opened(lucene_index, tmp_path):
    import shutil

    from regard.indexing.lucene import ID_ORDER_NAME

    saved = np.load(lucene_index.folder / ID_ORDER_NAME)
    assert sorted(saved.tolist()) == list(range(len(_corpus())))
    older = tmp_path / "older"
    shutil.copytree(lucene_index.folder, older)
    (older / ID_ORDER_NAME).unlink()
    assert Index.open(older).retriever(k=20)(QUERIES) == lucene_index.retriever(k=20)(QUERIES)


def test_hits_are_read_exactly(lucene_index):
    """Scores through Jackson's double[] are Lucene's floats; document numbers are in hit order."""
    from jnius import autoclass

    stage = lucene_index.retriever(k=10)
    lucene = stage._searcher
    query = lucene._queries.buildQuery("contents", lucene._analyzer, "apple banana fig")
    top = lucene._searcher.search(query, 100)
    per_hit = [(hit.doc, hit.score) for hit in top.scoreDocs]
    assert lucene._hits.docs(top).tolist() == [doc for doc, _ in per_hit]
    assert lucene._hits.scores(top).tolist() == [score for _, score in per_hit]
    # Anserini's constants 1e-4f and 1e-6f are the float32 values used here.
    parse = autoclass("java.lang.Float").parseFloat
    assert parse("1e-4") == float(np.float32(1e-4)) and parse("1e-6") == float(np.float32(1e-6))


def test_a_docstore_that_does_not_match_the_lucene_index_is_refused(lucene_index):
    from regard.indexing.lucene import LuceneBM25

    ids = list(lucene_index.docstore.ids())
    with pytest.raises(BadIndexError, match="Lucene documents"):
        LuceneBM25(lucene_index.folder, ids[:-1])
    swapped = ids[:]
    swapped[0], swapped[-1] = "not-an-id", "neither"
    with pytest.raises(BadIndexError, match="docstore says"):
        LuceneBM25(lucene_index.folder, swapped)


def test_an_error_in_one_thread_is_raised(lucene_index, monkeypatch):
    from regard.indexing import lucene

    stage = lucene_index.retriever(k=5, threads=3)
    calls = []

    def failing(text, k):
        calls.append(text)
        raise RuntimeError("boom")

    monkeypatch.setattr(stage._searcher, "_top", failing)
    with pytest.raises(RuntimeError, match="boom"):
        stage(QUERIES[:4])
    assert 1 <= len(calls) <= 4
    assert lucene._map_on_threads(lambda x: x * 2, list(range(50)), 4) == [x * 2 for x in range(50)]


def _anserini_loop(scores: list[float]) -> list[float]:
    """ScoreTiesAdjusterReranker.rerank, statement by statement (float32 arithmetic, exact Math.round)."""
    out = [np.float32(s) for s in scores]
    dup = 0
    for i in range(len(out)):
        rounded = floor(Fraction(float(out[i])) * 10000 + Fraction(1, 2))  # Math.round(double) on s * 10000d
        out[i] = np.float32(float(rounded) / 10000.0)
        if i == 0 or out[i - 1] - out[i] > np.float32(1e-4):
            dup = 0
        else:
            dup += 1
            out[i] = out[i] - np.float32(1e-6) * np.float32(dup)
    return [float(s) for s in out]


@pytest.mark.parametrize("seed", range(12))
def test_anserini_scores_follow_the_java_loop(seed):
    rng = np.random.default_rng(seed)
    scale = [0.05, 1.0, 30.0, 300.0][seed % 4]
    grid = np.round(rng.uniform(0, scale, 400), 4)  # many values on or near the 1e-4 grid, many repeated
    values = np.concatenate([grid, grid[:150], grid[:60] + rng.choice([-2e-5, 5e-5, 1e-4, 1.5e-4], 60),
                             rng.uniform(0, scale, 100)]).astype(np.float32)
    scores = np.sort(values)[::-1]
    assert anserini_scores(scores).tolist() == _anserini_loop(scores.tolist())


def test_anserini_scores_of_few_hits():
    assert anserini_scores(np.zeros(0, dtype=np.float32)).tolist() == []
    assert anserini_scores(np.array([3.14159], dtype=np.float32)).tolist() == _anserini_loop([3.14159])


@pytest.mark.parametrize("seed", range(4))
def test_anserini_scores_of_several_queries_at_once_are_each_querys(seed):
    rng = np.random.default_rng(seed)
    queries = [np.sort(np.round(rng.uniform(0, 300, n), 4).astype(np.float32))[::-1] for n in (50, 0, 1, 200, 7)]
    starts = np.cumsum([0] + [len(q) for q in queries[:-1]])
    together = anserini_scores(np.concatenate(queries), starts)
    assert together.tolist() == [s for q in queries for s in _anserini_loop(q.tolist())]


def test_queries_searched_together_get_their_own_rankings(lucene_index):
    """A search thread takes several queries at once; each gets the ranking it gets alone."""
    from regard.indexing import lucene

    texts = [query.text for query in QUERIES] * 3
    searcher = lucene_index.retriever(k=12)._searcher
    alone = [searcher._top([text], 12) for text in texts]
    together = searcher._top(texts, 12)
    assert len(together) == len(texts)
    for (ids, scores), [(ids_alone, scores_alone)] in zip(together, alone):
        assert ids == ids_alone and scores.tolist() == scores_alone.tolist()
    assert lucene._QUERIES_PER_TASK > 1
