"""FAISS indexes over normalised vectors: exact inner product (default), HNSW, IVF-PQ and PQ.

Every type can return its stored vectors by position (`stored_vectors`), which is how a dense
index rescores an incoming run: flat and HNSW keep the vectors (float32, or float16 with ``fp16``),
IVF-PQ keeps their product-quantised codes and a direct map from position to code, so rescoring
sees the same approximation as its search; PQ is an exhaustive scan of product-quantised codes (8
bits per ~8 dimensions: 1/32 of float32), trained on a sample. ``fp16`` does not apply to IVF-PQ or
PQ (their codes are already compressed) and is refused there rather than ignored. ``vectors`` may be
any matrix-like object with ``shape`` and row slicing (a memory map, or FDEs computed per batch).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from regard.errors import RegardError

FAISS_FILE = "vectors.faiss"
FAISS_TYPES = ("flat", "hnsw", "ivfpq", "pq")
FP16_TYPES = ("flat", "hnsw")  # ivfpq and pq store product-quantised codes
TRAINING_POINTS_PER_CENTROID = 64  # IVF-PQ trains on at most this many vectors per centroid (k-means and PQ)
ADD_BATCH_BYTES = 256 << 20  # vectors added (and, for a lazy matrix, computed) per batch


class FaissOptionError(RegardError, ValueError):
    """A FAISS index type and option that do not go together."""


def check_faiss_options(faiss_type: str, fp16: bool) -> None:
    """Raise `FaissOptionError` unless ``faiss_type`` is known and ``fp16`` applies to it."""
    if faiss_type not in FAISS_TYPES:
        raise FaissOptionError(f"faiss type must be one of {', '.join(FAISS_TYPES)}, got {faiss_type!r}")
    if fp16 and faiss_type not in FP16_TYPES:
        raise FaissOptionError(f"--fp16 applies to {' and '.join(FP16_TYPES)} FAISS indexes, not {faiss_type} "
                               "(its product-quantised codes are already compressed); drop --fp16 or choose "
                               "--faiss flat or hnsw")


def _faiss():
    import faiss

    return faiss


def pq_subquantizers(dim: int) -> int:
    """Sub-quantizers of 8 bits for about 8 dimensions each: codes 1/32 the size of float32 vectors."""
    return next(m for m in range(max(1, dim // 8), 0, -1) if dim % m == 0)


def ivfpq_shape(count: int, dim: int) -> tuple[int, int, int]:
    """(nlist, PQ sub-quantizers, bits per code) for ``count`` vectors of ``dim`` dimensions."""
    nlist = max(1, min(int(4 * math.sqrt(count)), count // 39))
    sub = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m and dim % m == 0)
    bits = 8 if count >= 256 * 39 else max(1, min(8, int(math.log2(max(2, count // 39)))))
    return nlist, sub, bits


def training_sample(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """``size`` rows of ``vectors`` chosen at random (all rows when there are fewer), as float32.

    Only the chosen rows are read, so a memory-mapped matrix is never loaded whole.
    """
    count = vectors.shape[0]
    if size >= count:
        return np.ascontiguousarray(vectors[np.arange(count)], dtype=np.float32)
    rows = np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def build_faiss(vectors: np.ndarray, faiss_type: str = "flat", fp16: bool = False, hnsw_m: int = 32) -> tuple[object, dict]:
    """Build a FAISS inner-product index over ``vectors``; returns (index, parameters to record).

    Vectors are added in batches; IVF-PQ trains on a random sample of at most
    ``TRAINING_POINTS_PER_CENTROID`` vectors per centroid, so a memory-mapped matrix is not loaded whole.
    """
    check_faiss_options(faiss_type, fp16)
    faiss = _faiss()
    count, dim = vectors.shape
    params: dict = {"faiss_type": faiss_type, "fp16": fp16, "dimension": dim, "metric": "inner_product"}
    if faiss_type == "flat":
        index = (
            faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
            if fp16 else faiss.IndexFlatIP(dim)
        )
    elif faiss_type == "hnsw":
        index = (
            faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            if fp16 else faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        )
        index.hnsw.efConstruction = 200
        index.hnsw.efSearch = 128
        params.update(hnsw_m=hnsw_m, ef_construction=200, ef_search=128)
    elif faiss_type == "ivfpq":
        nlist, sub, bits = ivfpq_shape(count, dim)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, sub, bits, faiss.METRIC_INNER_PRODUCT)
        sample = training_sample(vectors, TRAINING_POINTS_PER_CENTROID * max(nlist, 2 ** bits))
        index.train(sample)
        index.nprobe = min(nlist, 16)
        index.make_direct_map()  # position -> code, for rescoring an incoming run
        params.update(nlist=nlist, pq_subquantizers=sub, pq_bits=bits, nprobe=index.nprobe,
                      training_vectors=len(sample))
    elif faiss_type == "pq":
        sub = pq_subquantizers(dim)
        # Fewer bits on small corpora: k-means wants about 39 points per centroid.
        bits = 8 if count >= 256 * 39 else max(1, min(8, int(math.log2(max(2, count // 39)))))
        index = faiss.IndexPQ(dim, sub, bits, faiss.METRIC_INNER_PRODUCT)
        sample = training_sample(vectors, TRAINING_POINTS_PER_CENTROID * 2 ** bits)
        index.train(sample)
        params.update(pq_subquantizers=sub, pq_bits=bits, training_vectors=len(sample))
    if not index.is_trained:
        index.train(training_sample(vectors, count))
    batch = max(1, ADD_BATCH_BYTES // (4 * dim))
    for start in range(0, count, batch):
        index.add(np.ascontiguousarray(vectors[start:start + batch], dtype=np.float32))
    return index, params


def save_faiss(index: object, folder: Path) -> None:
    _faiss().write_index(index, str(folder / FAISS_FILE))


def load_faiss(folder: Path, params: dict) -> object:
    """Read the index back; flat indexes are memory-mapped rather than loaded."""
    faiss = _faiss()
    flags = faiss.IO_FLAG_MMAP if params.get("faiss_type") == "flat" and not params.get("fp16") else 0
    index = faiss.read_index(str(folder / FAISS_FILE), flags)
    if params.get("faiss_type") == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = params.get("ef_search", 128)
    if params.get("faiss_type") == "ivfpq":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = params.get("nprobe", 16)
        if ivf.direct_map.type == faiss.DirectMap.NoMap:  # an index built before the map was stored
            ivf.make_direct_map()
    return index


def stored_vectors(index: object, positions: np.ndarray) -> np.ndarray:
    """The vectors stored at ``positions`` (as the index holds them: exact, float16 or PQ-decoded)."""
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    if not len(positions):
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_batch(positions)


def search_parameters(index: object, selector: object = None, nprobe: int | None = None) -> object | None:
    """Search parameters of the class ``index``'s type expects: a ``selector`` restricting the search,
    and for IVF indexes the lists probed (``nprobe``, default the index's own)."""
    faiss = _faiss()
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe or ivf.nprobe)
    return faiss.SearchParameters(sel=selector) if selector is not None else None


def search(index: object, queries: np.ndarray, k: int, selector: object = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the top ``k`` per query, like ``index.search``, but without IVF's silent cut.

    An IVF index scans only ``nprobe`` of its lists, which can hold fewer than ``k`` vectors: queries
    left short are searched again with twice the lists, up to all of them, so each query gets ``k``
    results whenever the index (or the ``selector``) admits that many. Other types return ``k`` already.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores, positions = index.search(queries, k, params=search_parameters(index, selector))
    ivf = _faiss().try_extract_index_ivf(index)
    if ivf is None:
        return scores, positions
    nprobe = ivf.nprobe
    short = np.flatnonzero((positions >= 0).sum(axis=1) < k)
    while len(short) and nprobe < ivf.nlist:
        nprobe = min(ivf.nlist, 2 * nprobe)
        more_scores, more_positions = index.search(queries[short], k, params=search_parameters(index, selector, nprobe))
        scores[short], positions[short] = more_scores, more_positions
        short = short[(more_positions >= 0).sum(axis=1) < k]
    return scores, positions
