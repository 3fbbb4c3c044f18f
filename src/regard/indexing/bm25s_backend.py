"""A Java-free BM25 backend on bm25s (sparse matrices), with Lucene's BM25 variant."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from regard.data.types import Document, Query, Run
from regard.errors import MissingExtraError
from regard.progress import quiet_libraries

BM25S_DIR = "bm25s"


def _modules():
    try:
        import bm25s
        import Stemmer
    except ImportError as err:
        raise MissingExtraError(err.name or "bm25s", "bm25s", "the bm25s backend") from None
    quiet_libraries()  # bm25s sets its logger to DEBUG when imported
    return bm25s, Stemmer


def _tokenize(texts: list[str], show_progress: bool = False):
    bm25s, Stemmer = _modules()
    return bm25s.tokenize(
        texts, lower=True, stopwords="en", stemmer=Stemmer.Stemmer("english"),
        return_ids=False, show_progress=show_progress,
    )


def build_bm25s_index(documents: Iterable[Document], folder: Path, k1: float = 0.9, b: float = 0.4) -> int:
    """Tokenise (lower-case, English stopwords, Snowball English stemmer) and index into ``folder/bm25s``.

    Streams: documents are read in batches and the score matrix is written memory-mapped (see
    :mod:`regard.indexing.bm25s_build`), with the scores ``bm25s.BM25(method="lucene").index`` gives.
    Returns the document count.
    """
    bm25s, Stemmer = _modules()
    from bm25s.stopwords import STOPWORDS_EN

    from regard.indexing.bm25s_build import build_streamed_bm25s

    return build_streamed_bm25s(documents, folder / BM25S_DIR, Stemmer.Stemmer("english"), STOPWORDS_EN,
                                version=bm25s.__version__, k1=k1, b=b)


class Bm25sBM25:
    """Batch BM25 search with bm25s; document positions map to ids through the docstore order."""

    def __init__(self, folder: Path, doc_ids: list[str], threads: int = 1):
        bm25s, _ = _modules()
        self.retriever = bm25s.BM25.load(str(folder / BM25S_DIR), mmap=True)
        self.doc_ids = doc_ids
        self.threads = threads

    def search(self, queries: list[Query], k: int) -> Run:
        if not queries:
            return Run()
        k = min(k, len(self.doc_ids))
        tokens = _tokenize([q.text for q in queries])
        # bm25s rejects a query none of whose terms is in the vocabulary; such queries retrieve nothing.
        vocab = self.retriever.vocab_dict
        known = [[t for t in toks if t in vocab] for toks in tokens]
        rankings: dict[str, list[tuple[str, float]]] = {q.id: [] for q in queries}
        rows = [i for i, toks in enumerate(known) if toks]
        if rows:
            positions, scores = self.retriever.retrieve(
                [known[i] for i in rows], k=k, show_progress=False, n_threads=self.threads
            )
            for row, doc_positions, doc_scores in zip(rows, positions, scores):
                keep = np.asarray(doc_scores) > 0
                rankings[queries[row].id] = [
                    (self.doc_ids[int(p)], float(s)) for p, s in zip(np.asarray(doc_positions)[keep], np.asarray(doc_scores)[keep])
                ]
        return Run(rankings)
