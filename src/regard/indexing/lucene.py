"""BM25 on a Lucene index through pyserini (Anserini), reproducing BEIR's "flat" indexes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from regard.progress import progress_bar

from regard.data.types import Document, Query, Run, ranked
from regard.indexing.jvm import pyserini_lucene

LUCENE_DIR = "lucene"
_BATCH = 1000
_TIE_MARGIN = 10  # extra hits fetched so that ties at the k-th score are usually all seen at once


def build_lucene_index(documents: Iterable[Document], folder: Path, total: int | None = None,
                       threads: int = 1) -> None:
    """Index ``documents`` into ``folder/lucene``: one ``contents`` field of title and text.

    This matches BEIR's "flat" Lucene indexes in pyserini (Anserini's BeirFlatCollection with the
    default English analyzer: Porter stemming, stopwords removed). With ``threads`` > 1 Anserini
    analyses and adds each batch's documents in parallel, so Lucene's internal document order depends
    on scheduling; scores do not, and :meth:`LuceneBM25.search` ranks without using that order.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    LuceneIndexer, _ = pyserini_lucene()
    indexer = LuceneIndexer(str(folder / LUCENE_DIR), threads=threads)
    batch: list[dict[str, str]] = []
    for doc in progress_bar(documents, total=total, desc="BM25 (Lucene) indexing", unit="doc"):
        batch.append({"id": doc.id, "contents": doc.contents})
        if len(batch) >= _BATCH:
            indexer.add_batch_dict(batch)
            batch = []
    if batch:
        indexer.add_batch_dict(batch)
    indexer.close()


_QUERY_BATCH = 32


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
        # Lucene breaks score ties by its internal document order, which multi-threaded indexing leaves
        # to scheduling. So the top k is cut here, in the toolkit's order (score, then docid,
        # descending), from hits deep enough to hold every document tied with the k-th score.
        if len(queries) > _QUERY_BATCH:  # bounds the hits alive in the JVM at once (each carries its document)
            runs = [self.search(queries[i:i + _QUERY_BATCH], k) for i in range(0, len(queries), _QUERY_BATCH)]
            return Run({qid: ranking for run in runs for qid, ranking in run.items()})
        depth, pending = k + _TIE_MARGIN, queries
        hits: dict[str, list[tuple[str, float]]] = {}
        while pending:
            results = self.searcher.batch_search(
                [q.text for q in pending], [q.id for q in pending], k=depth, threads=self.threads
            )
            hits.update({qid: [(hit.docid, hit.score) for hit in found] for qid, found in results.items()})
            pending = [q for q in pending if _ties_past(hits.get(q.id, []), k, depth)]
            depth *= 2
        # In the queries' order: the JVM's result map iterates in an order of its own.
        return Run({q.id: ranked(hits[q.id])[:k] for q in queries if q.id in hits})


def _ties_past(hits: list[tuple[str, float]], k: int, depth: int) -> bool:
    """Whether documents tied with the k-th score may lie beyond the ``depth`` hits returned."""
    return len(hits) >= depth > k and hits[depth - 1][1] == hits[k - 1][1]
