"""FAISS indexes over normalised vectors: exact inner product (default), HNSW, and IVF-PQ."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

FAISS_FILE = "vectors.faiss"
FAISS_TYPES = ("flat", "hnsw", "ivfpq")


def _faiss():
    import faiss

    return faiss


def build_faiss(vectors: np.ndarray, faiss_type: str = "flat", fp16: bool = False, hnsw_m: int = 32) -> tuple[object, dict]:
    """Build a FAISS inner-product index over ``vectors``; returns (index, parameters to record)."""
    faiss = _faiss()
    if faiss_type not in FAISS_TYPES:
        raise ValueError(f"faiss type must be one of {FAISS_TYPES}, got {faiss_type!r}")
    count, dim = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
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
    else:
        nlist = max(1, min(int(4 * math.sqrt(count)), count // 39))
        sub = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m and dim % m == 0)
        bits = 8 if count >= 256 * 39 else max(1, min(8, int(math.log2(max(2, count // 39)))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, sub, bits, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, 16)
        params.update(nlist=nlist, pq_subquantizers=sub, pq_bits=bits, nprobe=index.nprobe)
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
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
        faiss.extract_index_ivf(index).nprobe = params.get("nprobe", 16)
    return index
