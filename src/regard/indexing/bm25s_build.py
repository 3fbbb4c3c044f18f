"""A bm25s index built from a stream of documents in bounded memory.

bm25s's own ``BM25.index`` wants every document's token list at once (Python lists of strings), which
costs gigabytes at a million passages. This module writes the same index, file for file in the layout
``bm25s.BM25.load`` reads, from documents read in batches:

1. Each batch is tokenized exactly as ``bm25s.tokenize(lower=True, stopwords="en", stemmer=Snowball
   English)`` does, and each document's distinct terms with their frequencies are appended to
   temporary files (numpy arrays on disk). Only the vocabulary (term -> id, plus a cache of each
   surface word's stem) and per-term document frequencies stay in memory.
2. With the document frequencies and the average length known, the postings are read back in blocks
   of documents, scored with bm25s's ``lucene`` method (same idf and k1/b/avgdl normalisation, same
   float64 arithmetic rounded to float32) and scattered into the CSC arrays, which are memory-mapped
   ``.npy`` files written in place.

What must live in RAM is the vocabulary and one block of postings; the CSC arrays are file-backed.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from regard.data.types import Document

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # bm25s.tokenize's default, scikit-learn's CountVectorizer pattern
_DOC_BATCH = 4096
_SCORE_BLOCK = 8192  # documents scored and scattered per step of the second pass (~30 MB of temporaries)
# bm25s's file names (BM25.save / BM25.load defaults).
DATA_FILE, INDICES_FILE, INDPTR_FILE = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
VOCAB_FILE, PARAMS_FILE = "vocab.index.json", "params.index.json"


class StemmingTokenizer:
    """bm25s.tokenize's tokens (lower-case, English stopwords, a stemmer) as ids of a growing vocabulary.

    ``vocabulary`` maps each stem to its id in order of first appearance; each surface word is stemmed
    once (``_word_ids`` caches it), so the cost is per distinct word, not per occurrence.
    """

    def __init__(self, stemmer, stopwords: Iterable[str]):
        self._split = re.compile(TOKEN_PATTERN).findall
        self._stem = stemmer.stemWord
        self._stopwords = frozenset(stopwords)
        self.vocabulary: dict[str, int] = {}
        self._word_ids: dict[str, int] = {}

    def ids(self, text: str) -> list[int]:
        """The term ids of ``text``, in order, stopwords removed."""
        word_ids, out = self._word_ids, []
        for word in self._split(text.lower()):
            term = word_ids.get(word)
            if term is None:
                if word in self._stopwords:
                    continue
                term = self.vocabulary.setdefault(self._stem(word), len(self.vocabulary))
                word_ids[word] = term
            out.append(term)
        return out


def _batches(documents: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(documents)
    while batch := list(islice(iterator, size)):
        yield batch


class _Postings:
    """Per-document distinct terms and frequencies, appended to raw files in a temporary folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._files = {name: open(folder / f"{name}.bin", "wb") for name in ("terms", "tfs", "nnz", "lengths")}
        self.documents = 0
        self.entries = 0
        self.total_length = 0
        self.df = np.zeros(0, dtype=np.int64)

    def add(self, term_ids: list[int], lengths: list[int], vocabulary_size: int) -> None:
        """Add a batch: ``term_ids`` of its documents concatenated, ``lengths`` tokens per document."""
        lengths_array = np.asarray(lengths, dtype=np.int64)
        owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths_array)
        keys, tfs = np.unique((owner << 32) | np.asarray(term_ids, dtype=np.int64), return_counts=True)
        terms = (keys & 0xFFFFFFFF).astype(np.int32)
        nnz = np.bincount(keys >> 32, minlength=len(lengths)).astype(np.int32)
        for name, array in (("terms", terms), ("tfs", tfs.astype(np.int32)), ("nnz", nnz),
                            ("lengths", lengths_array.astype(np.int32))):
            array.tofile(self._files[name])
        if len(self.df) < vocabulary_size:
            self.df = np.concatenate([self.df, np.zeros(vocabulary_size - len(self.df), dtype=np.int64)])
        self.df += np.bincount(terms, minlength=len(self.df))
        self.documents += len(lengths)
        self.entries += len(terms)
        self.total_length += int(lengths_array.sum())

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def array(self, name: str) -> np.ndarray:
        """A finished file, memory-mapped."""
        path = self.folder / f"{name}.bin"
        return np.memmap(path, dtype=np.int32, mode="r") if path.stat().st_size else np.zeros(0, np.int32)


def lucene_idf(df: np.ndarray, documents: int) -> np.ndarray:
    """bm25s's ``lucene`` idf, ``log(1 + (N - df + 0.5) / (df + 0.5))``, as float32 per term.

    Computed with ``math.log`` per distinct document frequency, as bm25s does per term, so the
    float32 values are bit-identical.
    """
    values, inverse = np.unique(df, return_inverse=True)
    idf = np.array([math.log(1 + (documents - int(v) + 0.5) / (int(v) + 0.5)) if v else 0.0 for v in values])
    return idf.astype(np.float32)[inverse]


def _score_and_scatter(postings: _Postings, idf: np.ndarray, k1: float, b: float, avg_length: np.float64,
                       data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> None:
    terms, tfs, nnz, lengths = (postings.array(n) for n in ("terms", "tfs", "nnz", "lengths"))
    heads = indptr[:-1].copy()  # next free slot of every column
    entry = 0
    for start in range(0, postings.documents, _SCORE_BLOCK):
        stop = min(start + _SCORE_BLOCK, postings.documents)
        block_nnz = np.asarray(nnz[start:stop], dtype=np.int64)
        count = int(block_nnz.sum())
        t = np.asarray(terms[entry:entry + count])
        tf = np.asarray(tfs[entry:entry + count]).astype(np.float32)
        entry += count
        doc = np.repeat(np.arange(start, stop, dtype=np.int32), block_nnz)
        doc_length = np.repeat(np.asarray(lengths[start:stop], dtype=np.int64), block_nnz)
        # bm25s: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf) in float64, times the float32 idf, stored as float32.
        tfc = tf / (k1 * ((1 - b) + b * doc_length / avg_length) + tf)
        scores = (idf[t] * tfc).astype(np.float32)
        # Columns (terms) in order, each keeping document order: a stable sort by term, then each
        # entry's rank within its term's run placed after what earlier blocks wrote there.
        order = np.argsort(t, kind="stable")
        sorted_terms = t[order]
        run_start = np.flatnonzero(np.r_[True, sorted_terms[1:] != sorted_terms[:-1]])
        rank = np.arange(count) - np.repeat(run_start, np.diff(np.r_[run_start, count]))
        slots = heads[sorted_terms] + rank
        data[slots] = scores[order]
        indices[slots] = doc[order]
        heads += np.bincount(t, minlength=len(heads))


def build_streamed_bm25s(documents: Iterable[Document], folder: Path, stemmer, stopwords: Iterable[str],
                         version: str, k1: float = 0.9, b: float = 0.4) -> int:
    """Write a bm25s index (method ``lucene``) of ``documents`` into ``folder``; returns the document count.

    ``stemmer`` has PyStemmer's ``stemWord``; ``version`` is the bm25s version recorded in its params.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = StemmingTokenizer(stemmer, stopwords)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".postings-") as scratch:
        postings = _Postings(Path(scratch))
        try:
            for batch in _batches(documents, _DOC_BATCH):
                term_ids: list[int] = []
                lengths = []
                for doc in batch:
                    ids = tokenizer.ids(doc.contents)
                    term_ids += ids
                    lengths.append(len(ids))
                postings.add(term_ids, lengths, len(tokenizer.vocabulary))
        finally:
            postings.close()
        n_docs, n_terms = postings.documents, len(tokenizer.vocabulary)
        df = np.zeros(n_terms, dtype=np.int64)
        df[:len(postings.df)] = postings.df
        avg_length = np.float64(postings.total_length) / max(n_docs, 1)  # as np.array(lengths).mean()
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        data = np.lib.format.open_memmap(folder / DATA_FILE, mode="w+", dtype=np.float32, shape=(postings.entries,))
        indices = np.lib.format.open_memmap(folder / INDICES_FILE, mode="w+", dtype=np.int32, shape=(postings.entries,))
        if postings.entries:
            _score_and_scatter(postings, lucene_idf(df, n_docs), k1, b, avg_length, data, indices, indptr)
        data.flush()
        indices.flush()
        del data, indices
    np.save(folder / INDPTR_FILE, indptr, allow_pickle=False)
    vocabulary = tokenizer.vocabulary
    # bm25s adds the empty token after the terms (BM25.index(create_empty_token=True)).
    vocabulary.setdefault("", n_terms)
    (folder / VOCAB_FILE).write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    params = {"k1": k1, "b": b, "delta": 0.5, "method": "lucene", "idf_method": "lucene", "dtype": "float32",
              "int_dtype": "int32", "num_docs": n_docs, "version": version, "backend": "numpy"}
    (folder / PARAMS_FILE).write_text(json.dumps(params, indent=4))
    return n_docs
