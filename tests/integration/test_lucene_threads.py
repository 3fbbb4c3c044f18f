"""A Lucene index built with several threads ranks exactly as one built with one thread."""

from __future__ import annotations

import pytest

from regard import Index

pytestmark = pytest.mark.integration


def test_two_indexing_threads_give_the_one_thread_runs(scifact, scifact_bm25, indexes):
    threaded = Index.build(scifact, indexes / "scifact-bm25-2threads", kind="bm25", threads=2, overwrite=True)
    assert threaded.manifest.parameters == scifact_bm25.manifest.parameters
    queries = scifact.queries("test")
    for k in (10, 1000):
        one, two = scifact_bm25.retriever(k=k)(queries), threaded.retriever(k=k)(queries)
        assert sorted(one) == sorted(two) and len(one) == 300
        for qid in one:
            a, b = one[qid], two[qid]
            assert [d for d, _ in a] == [d for d, _ in b], qid
            assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
