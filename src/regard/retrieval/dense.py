"""The dense retrieval stage: encode queries, search the FAISS index."""

from __future__ import annotations

import numpy as np

from regard.data.types import Query, Run
from regard.indexing.faiss_index import search, stored_vectors
from regard.pipeline import Retriever
from regard.retrieval.candidates import positions_in


class DenseRetriever(Retriever):
    """Top-``k`` inner-product search of a ``dense`` index with the encoder it was built with.

    Given an incoming run (``bm25 % 100 >> dense``), it rescores those candidates with their stored
    vectors instead of searching the whole index.
    """

    def __init__(self, index, k: int = 1000, device: str | None = None, batch_size: int = 64):
        from regard.encoders.select import dense_encoder
        from regard.indexing.faiss_index import load_faiss

        manifest = index.manifest
        params = manifest.parameters
        self.index = index
        self.k = k
        self.encoder = dense_encoder(
            manifest.model, device=device, precision=params.get("precision", "fp32"), batch_size=batch_size,
            max_length=params.get("max_length"), query_prefix=params.get("query_prefix", ""),
            document_prefix=params.get("document_prefix", ""),
        )
        self._faiss = load_faiss(index.folder, params)
        self._ids = index.docstore.ids()
        self.name = index.name

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        vectors = self.encoder.encode_queries([q.text for q in queries])
        if run is not None:
            return self._rescore(queries, vectors, run)
        k = min(self.k, len(self._ids))
        scores, positions = search(self._faiss, vectors, k)
        return Run({
            q.id: [(self._ids[p], float(s)) for p, s in zip(row_pos, row_scores) if p >= 0]
            for q, row_pos, row_scores in zip(queries, positions, scores)
        })

    def _rescore(self, queries: list[Query], vectors: np.ndarray, run: Run) -> Run:
        rankings = {}
        for query, vector in zip(queries, vectors):
            positions = positions_in(self.index.docstore, run.docids(query.id))
            scores = stored_vectors(self._faiss, positions) @ vector
            rankings[query.id] = [(self._ids[p], s) for p, s in zip(positions.tolist(), scores.tolist())]
        return Run(rankings)
