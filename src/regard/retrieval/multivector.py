"""Multi-vector retrieval stages: exhaustive MaxSim, and MUVERA candidates reranked by exact MaxSim.

Both read document token vectors from the index's memory-mapped token store and encode queries with
the token encoder recorded in the manifest. Given an incoming run (``bm25 % 100 >> muvera``), either
stage rescores those candidates by exact MaxSim instead of searching.
"""

from __future__ import annotations

import numpy as np

from regard.data.types import Query, Run, ranked
from regard.encoders.multivector import RaggedVectors
from regard.errors import BadIndexError, RegardError
from regard.indexing.faiss_index import search
from regard.pipeline import Retriever
from regard.retrieval.candidates import positions_in
from regard.retrieval.maxsim import exhaustive_maxsim, maxsim, resolve_precision


def token_encoder_for(manifest, device: str | None = None, batch_size: int = 32):
    """The token encoder an index was built with, as its manifest records it."""
    from regard.encoders.multivector import TokenEncoder

    encoder_params = manifest.parameters.get("token_encoder", {})
    return TokenEncoder(
        manifest.model, device=device, precision=encoder_params.get("precision", "fp32"), batch_size=batch_size,
        document_max_length=encoder_params.get("document_max_length"),
        query_max_length=encoder_params.get("query_max_length"),
        query_prefix=encoder_params.get("query_prefix", ""), document_prefix=encoder_params.get("document_prefix", ""),
    )


class _TokenStoreStage(Retriever):
    """Shared parts: the query encoder, the token store, id <-> position maps, MaxSim reranking."""

    def __init__(self, index, k: int, device: str | None, batch_size: int, precision: str):
        from regard.indexing.token_store import TokenStore

        if k < 1:
            raise RegardError(f"k must be at least 1, got {k}")
        self.index = index
        self.k = k
        self.precision = resolve_precision(precision)
        self.encoder = token_encoder_for(index.manifest, device=device, batch_size=batch_size)
        self.store = TokenStore(index.folder)
        self._ids = index.docstore.ids()
        if len(self._ids) != len(self.store):
            raise RegardError(f"{index.folder}: token store has {len(self.store)} documents, docstore {len(self._ids)}")

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        vectors = self.encode_queries(queries)
        return self.rescore(queries, vectors, run) if run is not None else self.retrieve(queries, vectors)

    def retrieve(self, queries: list[Query], vectors: RaggedVectors) -> Run:
        raise NotImplementedError

    def encode_queries(self, queries: list[Query]) -> RaggedVectors:
        return self.encoder.encode_queries([q.text for q in queries])

    def rerank(self, query_vectors: np.ndarray, positions: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Exact MaxSim of the documents at ``positions``; the best ``k`` as (docid, score)."""
        positions = np.asarray(positions, dtype=np.int64)
        positions = positions[positions >= 0]
        scores = maxsim(query_vectors, self.store, self.precision, positions)
        return ranked((self._ids[p], s) for p, s in zip(positions.tolist(), scores.tolist()))[:k]

    def rescore(self, queries: list[Query], vectors: RaggedVectors, run: Run) -> Run:
        """MaxSim of each query's incoming candidates (documents not in the index are dropped)."""
        rankings = {}
        for i, query in enumerate(queries):
            candidates = positions_in(self.index.docstore, run.docids(query.id))
            rankings[query.id] = self.rerank(vectors[i], candidates, len(candidates)) if len(candidates) else []
        return Run(rankings)


def fde_tail(positions: np.ndarray, fde_scores: np.ndarray, below: float) -> list[tuple[int, float]]:
    """Documents past the reranked candidates, in FDE order, scored under every reranked one.

    Their score is ``below - 1 - (best tail FDE score - own FDE score)``: MaxSim and FDE scores are
    on different scales, so the tail keeps its FDE order and gaps but always ranks after the head.
    """
    kept = positions >= 0
    positions, fde_scores = positions[kept], fde_scores[kept].astype(np.float64)
    if not len(positions):
        return []
    shifted = below - 1.0 - (fde_scores[0] - fde_scores)
    return list(zip(positions.tolist(), shifted.tolist()))


class MaxSimRetriever(_TokenStoreStage):
    """Exhaustive late-interaction retrieval: exact MaxSim against every document (the reference).

    ``precision`` is the MaxSim arithmetic (``auto``, ``fp32``, ``fp16``; see retrieval/maxsim.py).
    """

    def __init__(self, index, k: int = 1000, device: str | None = None, batch_size: int = 32,
                 progress: bool = False, precision: str = "auto"):
        super().__init__(index, k, device, batch_size, precision)
        self.progress = progress
        self.name = index.name

    def retrieve(self, queries: list[Query], vectors: RaggedVectors) -> Run:
        """The top ``k`` of every query from already encoded query token vectors."""
        scores, positions = exhaustive_maxsim(vectors, self.store, self.k, progress=self.progress,
                                              precision=self.precision)
        return Run({
            q.id: [(self._ids[p], float(s)) for p, s in zip(row_pos.tolist(), row_scores.tolist()) if p >= 0]
            for q, row_pos, row_scores in zip(queries, positions, scores)
        })


class MuveraRetriever(_TokenStoreStage):
    """MUVERA: top ``candidates`` by FDE inner product (FAISS), reranked by exact MaxSim, top ``k`` out.

    The run is ``k`` deep even when ``k`` exceeds ``candidates``: below the reranked candidates come
    the next documents by FDE score, in FDE order (scores under the reranked ones: :func:`fde_tail`).

    With ``rerank=False`` the FDE scores themselves rank the top ``k``. ``ef_search`` overrides the
    HNSW search depth of an index built with ``faiss_type="hnsw"``; ``precision`` is the MaxSim
    arithmetic of the rerank, as for :class:`MaxSimRetriever`.
    """

    def __init__(self, index, k: int = 1000, candidates: int = 200, rerank: bool = True,
                 device: str | None = None, batch_size: int = 32, ef_search: int | None = None,
                 precision: str = "auto"):
        from regard.encoders.muvera import FDEConfig, FDEEncoder
        from regard.indexing.faiss_index import load_faiss

        super().__init__(index, k, device, batch_size, precision)
        if candidates < 1:
            raise RegardError(f"candidates must be at least 1, got {candidates}")
        params = index.manifest.parameters
        if "fde" not in params or "faiss" not in params:
            raise BadIndexError(f"{index.folder}: the manifest lacks the FDE or FAISS parameters; rebuild the index")
        self.fde = FDEEncoder(FDEConfig(**params["fde"]))
        self._faiss = load_faiss(index.folder, params["faiss"])
        if ef_search is not None and params["faiss"].get("faiss_type") == "hnsw":
            import faiss

            faiss.downcast_index(self._faiss).hnsw.efSearch = ef_search
        self.candidates = candidates
        self.rerank_candidates = rerank
        self.name = index.name

    def retrieve(self, queries: list[Query], vectors: RaggedVectors) -> Run:
        """The top ``k`` of each query from encoded query token vectors.

        With reranking, the best ``candidates`` by FDE are scored by exact MaxSim; when ``k`` is larger,
        the next documents by FDE follow below them in FDE order (see :func:`fde_tail`), so a run is
        always ``k`` deep (recall@1000 and MAP see a full ranking).
        """
        depth = min(max(self.candidates, self.k) if self.rerank_candidates else self.k, len(self._ids))
        fde_scores, positions = self.search_fde(vectors, depth)
        rankings = {}
        for i, query in enumerate(queries):
            if self.rerank_candidates:
                head = self.rerank(vectors[i], positions[i][:self.candidates], self.k)
                tail = fde_tail(positions[i][self.candidates:], fde_scores[i][self.candidates:],
                                below=min((s for _, s in head), default=0.0))
                rankings[query.id] = head + [(self._ids[p], s) for p, s in tail[:self.k - len(head)]]
            else:
                rankings[query.id] = [(self._ids[p], float(s)) for p, s in zip(positions[i].tolist(),
                                                                                fde_scores[i].tolist()) if p >= 0]
        return Run(rankings)

    def search_fde(self, vectors: RaggedVectors, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``depth`` (FDE scores, positions) of each query's FDE."""
        encoded = np.ascontiguousarray(self.fde.encode_queries(vectors), dtype=np.float32)
        return search(self._faiss, encoded, depth)  # IVF: never silently fewer than ``depth``
