"""Document scores from chunk scores: MaxP, FirstP and the sum of the top chunks.

`aggregate` is the numeric core. `ChunkedDenseRetriever` is the stage of a ``dense-chunked`` index:
it searches the chunk vectors, then scores each candidate document exactly from all of its chunks
(MaxP: best chunk; FirstP: first chunk, searched among first chunks only, which equals a truncated
index; sumtop: sum of the ``top_chunks`` best). `ChunkAggregation` turns the run of any stage whose
documents are chunks (ids ``doc#n``, e.g. a multi-vector index built over `chunk_corpus`) into a
document run, from the chunks that stage returned.
"""

from __future__ import annotations

import math

import numpy as np

from regard.data.types import Query, Run, ranked
from regard.indexing.chunks import AGGREGATES, ChunkMap, split_chunk_id
from regard.indexing.faiss_index import search, stored_vectors
from regard.pipeline import Stage
from regard.retrieval.candidates import positions_in
from regard.retrieval.dense import DenseRetriever


def aggregate(documents: np.ndarray, numbers: np.ndarray, scores: np.ndarray, mode: str = "maxp",
              top_chunks: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-document scores from chunk scores.

    ``documents``, ``numbers`` (chunk number within its document) and ``scores`` are parallel arrays,
    one entry per scored chunk. Returns (document keys, scores) for every document with a score:
    ``maxp`` the best chunk, ``firstp`` chunk 0 (documents whose chunk 0 is absent get none),
    ``sumtop`` the sum of the ``top_chunks`` best chunks present.
    """
    if mode not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {mode!r}")
    documents, numbers, scores = np.asarray(documents), np.asarray(numbers), np.asarray(scores, dtype=np.float64)
    if mode == "firstp":
        first = numbers == 0
        return documents[first], scores[first]
    order = np.lexsort((-scores, documents))  # by document, best chunk first
    documents, scores = documents[order], scores[order]
    starts = np.flatnonzero(np.r_[True, documents[1:] != documents[:-1]]) if len(documents) else np.zeros(0, int)
    if mode == "maxp":
        return documents[starts], scores[starts]
    rank = np.arange(len(documents)) - np.repeat(starts, np.diff(np.r_[starts, len(documents)]))
    kept = rank < top_chunks
    sums = np.add.reduceat(np.where(kept, scores, 0.0), starts) if len(starts) else np.zeros(0)
    return documents[starts], sums


def _ranking(ids, keys: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    return ranked((ids[key], score) for key, score in zip(keys.tolist(), scores.tolist()))[:k]


class ChunkedDenseRetriever(DenseRetriever):
    """Retrieval from a ``dense-chunked`` index: chunk vectors searched, documents ranked.

    ``aggregate`` and ``top_chunks`` default to the values recorded when the index was built.
    ``depth`` is how many chunks the first search returns (default: enough for ``k`` documents at the
    corpus's mean chunks per document, times 2, at least 100); candidate documents are then scored
    from all their chunks, reconstructed from the index, so the aggregate is exact for them.
    Given an incoming run (``bm25 % 100 >> chunked``), its documents are scored the same way.
    """

    def __init__(self, index, k: int = 1000, aggregate: str | None = None, top_chunks: int | None = None,
                 depth: int | None = None, device: str | None = None, batch_size: int = 64):
        super().__init__(index, k=k, device=device, batch_size=batch_size)
        params = index.manifest.parameters
        self.mode = aggregate or params.get("aggregate", "maxp")
        if self.mode not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.mode!r}")
        self.top_chunks = top_chunks or int(params.get("top_chunks", 3))
        self.chunks = ChunkMap.load(index.folder, documents=len(self._ids))
        self.chunk_document = self.chunks.chunk_document
        self.chunk_number = self.chunks.chunk_number
        per_document = len(self.chunk_document) / max(1, len(self._ids))
        self.depth = depth or max(100, math.ceil(2 * k * per_document))
        self.name = f"{index.name}[{self.mode}]"

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        vectors = np.ascontiguousarray(self.encoder.encode_queries([q.text for q in queries]), dtype=np.float32)
        if run is not None:
            candidates = [positions_in(self.index.docstore, run.docids(q.id)) for q in queries]
            k = max((len(c) for c in candidates), default=0)
        else:
            candidates = self._candidates(vectors)
            k = self.k
        return Run({query.id: self._score(vector, documents, k)
                    for query, vector, documents in zip(queries, vectors, candidates)})

    def _candidates(self, vectors: np.ndarray) -> list[np.ndarray]:
        """Candidate document positions per query, from a search of the chunk vectors."""
        total = len(self.chunk_document)
        selector = None
        if self.mode == "firstp":  # search first chunks only: exactly a truncated index
            import faiss

            firsts = self.chunks.offsets[:-1][np.diff(self.chunks.offsets) > 0]
            selector = faiss.IDSelectorBatch(firsts)
            depth = min(self.k, len(self._ids))
        else:
            depth = min(self.depth, total)
        _, positions = search(self._faiss, vectors, depth, selector)
        result = []
        for row in positions:
            documents = self.chunk_document[row[row >= 0]]
            _, first = np.unique(documents, return_index=True)
            result.append(documents[np.sort(first)])
        return result

    def _score(self, vector: np.ndarray, documents: np.ndarray, k: int) -> list[tuple[str, float]]:
        if not len(documents):
            return []
        chunk_positions = self.chunks.chunks_of(documents)
        if self.mode == "firstp":
            chunk_positions = self.chunks.offsets[documents]
        stored = stored_vectors(self._faiss, chunk_positions)
        scores = stored @ vector
        keys, values = aggregate(self.chunk_document[chunk_positions], self.chunk_number[chunk_positions], scores,
                                 self.mode, self.top_chunks)
        return _ranking(self._ids, keys, values, k)


class ChunkAggregation(Stage):
    """Document run from a chunk-level stage (documents ``doc#n``), by MaxP, FirstP or sum of top chunks.

    Only the chunks ``inner`` returned are seen, so FirstP and sumtop are approximations unless
    ``inner`` retrieves deeply; MaxP is exact for every document that appears.
    """

    def __init__(self, inner: Stage, aggregate: str = "maxp", top_chunks: int = 3, k: int = 1000):
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        self.inner, self.mode, self.top_chunks, self.k = inner, aggregate, top_chunks, k
        self.name = f"{inner.name}[{aggregate}]"

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        chunk_run = self.inner.transform(queries, run)
        rankings = {}
        for query in queries:
            hits = chunk_run.get(query.id, [])
            if not hits:
                rankings[query.id] = []
                continue
            parsed = [split_chunk_id(chunk) for chunk, _ in hits]
            names = sorted({doc for doc, _ in parsed})
            key = {doc: i for i, doc in enumerate(names)}
            keys, values = aggregate(np.array([key[doc] for doc, _ in parsed]), np.array([n for _, n in parsed]),
                                     np.array([score for _, score in hits]), self.mode, self.top_chunks)
            rankings[query.id] = _ranking(names, keys, values, self.k)
        return Run(rankings)
