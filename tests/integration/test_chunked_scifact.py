"""Chunked retrieval with the real all-MiniLM-L6-v2 on the longest SciFact abstracts.

With 256-token windows the first window holds exactly the tokens a truncated index embeds, so FirstP
must reproduce the truncated index's ranking and scores: a check of the chunk-to-document mapping
with a real tokenizer and model. MaxP can only raise a document's score above its first window's.
"""

from __future__ import annotations

import itertools

import pytest

from regard import Index
from regard.data.types import Query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def long_abstracts(scifact):
    documents = sorted(itertools.islice(iter(scifact.corpus), 2000), key=lambda d: -len(d.contents))[:40]
    assert len(documents[-1].contents) > 2000  # long enough for several 256-token windows each
    return documents


def test_firstp_equals_truncation_and_maxp_dominates(long_abstracts, tmp_path):
    params = dict(model="sentence-transformers/all-MiniLM-L6-v2", precision="fp32", use_cache=False)
    truncated = Index.build(long_abstracts, tmp_path / "dense", kind="dense", **params)
    chunked = Index.build(long_abstracts, tmp_path / "chunked", kind="dense-chunked", chunk_tokens=256, overlap=64,
                          **params)
    assert chunked.manifest.parameters["chunks"] > len(long_abstracts)
    queries = [Query(f"q{i}", doc.title or doc.text[:80]) for i, doc in enumerate(long_abstracts[:10])]
    expected = truncated.retriever(k=10)(queries)
    firstp = chunked.retriever(k=10, aggregate="firstp")(queries)
    maxp = dict(chunked.retriever(k=len(long_abstracts), aggregate="maxp")(queries).items())
    for query in queries:
        assert firstp.docids(query.id) == expected.docids(query.id)
        for (_, got), (_, want) in zip(firstp[query.id], expected[query.id]):
            assert got == pytest.approx(want, abs=2e-3)
        best = dict(maxp[query.id])
        assert all(best[doc] >= score - 2e-3 for doc, score in expected[query.id])
