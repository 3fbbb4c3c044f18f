"""BM25 on a Lucene index (Anserini's), reproducing BEIR's "flat" indexes and pyserini's search of them.

Indexing goes through pyserini's ``LuceneIndexer``; search uses Lucene's ``IndexSearcher`` set up as
Anserini's ``SimpleSearcher`` is, with hits read as arrays (:mod:`regard.indexing.lucene_hits`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from regard.data.types import Document, Query, Run
from regard.errors import BadIndexError
from regard.indexing.docstore import DocIds
from regard.indexing.jvm import ensure_jvm, pyserini_lucene
from regard.indexing.lucene_hits import (
    HitArrays, anserini_scores, lucene_id_order, order_ties_by_rank,
)
from regard.progress import progress_bar

LUCENE_DIR = "lucene"
ID_ORDER_NAME = "lucene_id_order.npy"  # Lucene's document numbers sorted by id, written at build
_BATCH = 1000
_TIE_MARGIN = 10  # extra hits fetched so that ties at the k-th score are usually all seen at once
_QUERIES_PER_TASK = 16  # the most queries a search thread takes at a time
_TASKS_PER_THREAD = 8  # fewer queries per task than that, so that the threads finish together


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
    _write_id_order(folder)


def _write_id_order(folder: Path) -> None:
    """Save Lucene's document numbers in id order beside the index, so searches need not sort them."""
    from jnius import autoclass

    searcher = autoclass("org.apache.lucene.search.IndexSearcher")(
        autoclass("io.anserini.index.IndexReaderUtils").getReader(str(folder / LUCENE_DIR)))
    np.save(folder / ID_ORDER_NAME, lucene_id_order(searcher, HitArrays()), allow_pickle=False)
    searcher.getIndexReader().close()


class LuceneBM25:
    """BM25 search over a Lucene index, as pyserini's ``batch_search`` ranks, on ``threads`` threads.

    The run is the one pyserini's ``LuceneSearcher.batch_search`` gives (same hits, Anserini's
    rounded and tie-adjusted scores: :func:`~regard.indexing.lucene_hits.anserini_scores`), cut at k in
    the toolkit's order, but each query costs one Lucene search and a few JNI calls instead of a stored
    document and a Python object per hit. Queries run on ``threads`` Python threads; pyjnius releases the
    GIL while Lucene searches, so they search in parallel. Only the hits of the queries being searched
    are alive in the JVM at any time (no stored documents are loaded), which bounds its memory for any
    number of queries.
    """

    def __init__(self, folder: Path, ids: Sequence[str], k1: float = 0.9, b: float = 0.4, threads: int = 1):
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        ensure_jvm()
        from jnius import autoclass

        path = str(folder / LUCENE_DIR)
        searcher = autoclass("org.apache.lucene.search.IndexSearcher")(
            autoclass("io.anserini.index.IndexReaderUtils").getReader(path))
        # What Anserini's SimpleSearcher uses after set_bm25(k1, b): Lucene's BM25, its default analyzer.
        searcher.setSimilarity(autoclass("org.apache.lucene.search.similarities.BM25Similarity")(k1, b))
        self._searcher = searcher
        self._analyzer = autoclass("io.anserini.index.IndexCollection").DEFAULT_ANALYZER
        self._queries = autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        self._hits = HitArrays()
        self._rank, self._id_of_rank = _id_tables(searcher, self._hits, ids, folder)
        self.threads = threads

    def search(self, queries: list[Query], k: int) -> Run:
        """Top ``k`` per query. Query text is analysed as a bag of words, so Lucene syntax is inert.

        Each thread takes a few queries at a time: their searches run in Lucene one after another, and
        their hits are rounded, tie-adjusted and ordered by a handful of numpy calls for all of them,
        which is the work that holds the GIL (per query it would be a third of the time).
        """
        size = max(1, min(_QUERIES_PER_TASK, len(queries) // (self.threads * _TASKS_PER_THREAD)))
        tasks = [queries[start:start + size] for start in range(0, len(queries), size)]
        found = _map_on_threads(lambda task: self._top([query.text for query in task], k), tasks, self.threads)
        return Run.from_ranked({query.id: ranking for task, rankings in zip(tasks, found)
                                for query, ranking in zip(task, rankings)})

    def _top(self, texts: list[str], k: int, depth: int | None = None) -> list[tuple[list[str], np.ndarray]]:
        """The top ``k`` of Anserini's hits for each text in the toolkit's order: (docids, scores) each.

        Lucene's top n breaks score ties by its internal document order, which multi-threaded indexing
        leaves to scheduling, so each query's hits are fetched past ``depth`` until the ``depth``-th
        score's ties end, put in Anserini's order (score descending, then id ascending), given its
        adjusted scores, and cut at k in the toolkit's order (score, then docid, descending); a query
        whose k-th adjusted score ties past ``depth`` is searched again deeper.
        """
        depth = depth or k + _TIE_MARGIN
        docs, scores = [], []
        for text in texts:
            query = self._queries.buildQuery("contents", self._analyzer, text)
            fetch = depth + _TIE_MARGIN
            while True:
                found = self._searcher.search(query, fetch)
                hit_docs, hit_scores = self._hits.docs(found), self._hits.scores(found)
                if len(hit_docs) < fetch or hit_scores[-1] < hit_scores[depth - 1]:
                    break
                fetch *= 2
            docs.append(hit_docs)
            scores.append(hit_scores)
        counts = np.array([len(hits) for hits in docs], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        ranks, raw = self._rank[np.concatenate(docs)], np.concatenate(scores)
        anserini = order_ties_by_rank(raw, ranks, starts, descending=False)
        ranks, adjusted = ranks[anserini], anserini_scores(raw[anserini], starts)
        toolkit = order_ties_by_rank(adjusted, ranks, starts, descending=True)
        ids, adjusted = self._id_of_rank[ranks[toolkit]], adjusted[toolkit]
        out = []
        for text, start, count in zip(texts, starts.tolist(), counts.tolist()):
            if count >= depth > k and adjusted[start + depth - 1] == adjusted[start + k - 1]:
                out.extend(self._top([text], k, depth * 2))  # the k-th score's ties go deeper (rare)
            else:
                stop = start + min(k, count)
                out.append((ids[start:stop].tolist(), adjusted[start:stop]))
        return out


def _id_tables(searcher, hits: HitArrays, ids: Sequence[str], folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(each Lucene document's rank in id order, the ids in that order as an object array of str).

    Lucene's documents sorted by id (saved at build; sorted here for indexes built before), matched with
    the docstore's ids sorted the same way (UTF-8 byte order); a few documents' stored ids are checked. The id strings are made once
    here (about 70 MB for a million 10-character ids) and shared by every run, not decoded per hit.
    """
    path = folder / LUCENE_DIR
    saved = folder / ID_ORDER_NAME
    lucene_order = np.load(saved, allow_pickle=False) if saved.is_file() else lucene_id_order(searcher, hits)
    documents = searcher.getIndexReader().maxDoc()
    if not len(lucene_order) == documents == len(ids):
        raise BadIndexError(f"{path}: {documents} Lucene documents ({len(lucene_order)} in {saved.name}) but "
                            f"{len(ids)} in the docstore")
    utf8_ids = ids.utf8_array() if isinstance(ids, DocIds) else np.array([i.encode() for i in ids], dtype=bytes)
    id_of_rank = np.empty(len(ids), dtype=object)
    id_of_rank[:] = [raw.decode("utf-8") for raw in np.sort(utf8_ids).tolist()]
    rank = np.empty(len(ids), dtype=np.int32)
    rank[lucene_order] = np.arange(len(ids), dtype=np.int32)
    from jnius import autoclass

    stored_id = autoclass("io.anserini.index.IndexReaderUtils").convertLuceneDocidToDocid
    reader = searcher.getIndexReader()
    for doc in sorted({0, len(ids) - 1, *range(0, len(ids), max(1, len(ids) // 8))}) if len(ids) else []:
        expected = id_of_rank[rank[doc]]
        if stored_id(reader, doc) != expected:
            raise BadIndexError(f"{path}: Lucene document {doc} is {stored_id(reader, doc)!r}, "
                                f"not {expected!r} as its docstore says")
    return rank, id_of_rank


def _map_on_threads(function, items: list, threads: int) -> list:
    """``[function(item) for item in items]``, computed on up to ``threads`` threads in any order.

    Each worker thread takes the next item until none is left, and detaches from the JVM at its end.
    The first exception raised stops the others and is raised here.
    """
    threads = min(threads, len(items))
    if threads <= 1:
        return [function(item) for item in items]
    import jnius

    results: list = [None] * len(items)
    errors: list[BaseException] = []
    lock, next_item = threading.Lock(), iter(range(len(items)))

    def work() -> None:
        try:
            while not errors:
                with lock:
                    i = next(next_item, None)
                if i is None:
                    return
                results[i] = function(items[i])
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(error)
        finally:
            jnius.detach()

    workers = [threading.Thread(target=work, name=f"regard-lucene-{n}", daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results
