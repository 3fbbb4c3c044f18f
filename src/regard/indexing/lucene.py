"""BM25 on a Lucene index through pyserini (Anserini), reproducing BEIR's "flat" indexes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from regard.progress import progress_bar

from regard.data.types import Document, Query, Run
from regard.indexing.jvm import pyserini_lucene

LUCENE_DIR = "lucene"
_BATCH = 1000


def build_lucene_index(documents: Iterable[Document], folder: Path, total: int | None = None) -> None:
    """Index ``documents`` into ``folder/lucene``: one ``contents`` field of title and text.

    This matches BEIR's "flat" Lucene indexes in pyserini (Anserini's BeirFlatCollection with the
    default English analyzer: Porter stemming, stopwords removed).
    """
    LuceneIndexer, _ = pyserini_lucene()
    # One thread keeps Lucene's internal document order, and so tie order, deterministic.
    indexer = LuceneIndexer(str(folder / LUCENE_DIR), threads=1)
    batch: list[dict[str, str]] = []
    for doc in progress_bar(documents, total=total, desc="BM25 (Lucene) indexing", unit="doc"):
        batch.append({"id": doc.id, "contents": doc.contents})
        if len(batch) >= _BATCH:
            indexer.add_batch_dict(batch)
            batch = []
    if batch:
        indexer.add_batch_dict(batch)
    indexer.close()


class LuceneBM25:
    """Batch BM25 search over a Lucene index."""

    def __init__(self, folder: Path, k1: float = 0.9, b: float = 0.4, threads: int = 1):
        _, LuceneSearcher = pyserini_lucene()
        self.searcher = LuceneSearcher(str(folder / LUCENE_DIR))
        self.searcher.set_bm25(k1, b)
        self.threads = threads

    def search(self, queries: list[Query], k: int) -> Run:
        """Top ``k`` per query. Query text is analysed as a bag of words, so Lucene syntax is inert."""
        if not queries:
            return Run()
        results = self.searcher.batch_search(
            [q.text for q in queries], [q.id for q in queries], k=k, threads=self.threads
        )
        return Run({qid: [(hit.docid, hit.score) for hit in hits] for qid, hits in results.items()})
