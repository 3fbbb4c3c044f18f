"""The BM25 retrieval stage over a Lucene or bm25s index."""

from __future__ import annotations

from regard.data.types import Query, Run
from regard.pipeline import Retriever


class BM25(Retriever):
    """BM25 top-``k`` retrieval from a ``bm25`` index (k1 and b default to the values recorded at build)."""

    def __init__(self, index, k: int = 1000, k1: float | None = None, b: float | None = None, threads: int = 1):
        params = index.manifest.parameters
        self.index = index
        self.k = k
        self.k1 = params.get("k1", 0.9) if k1 is None else k1
        self.b = params.get("b", 0.4) if b is None else b
        backend = index.manifest.backend
        if backend == "lucene":
            from regard.indexing.lucene import LuceneBM25

            self._searcher = LuceneBM25(index.folder, index.docstore.ids(), k1=self.k1, b=self.b, threads=threads)
        else:
            from regard.indexing.bm25s_backend import Bm25sBM25

            if (self.k1, self.b) != (params.get("k1"), params.get("b")):
                raise ValueError("the bm25s backend fixes k1 and b at build time; rebuild the index to change them")
            self._searcher = Bm25sBM25(index.folder, index.docstore.ids(), threads=threads)
        self.name = index.name

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        return self._searcher.search(queries, self.k)
