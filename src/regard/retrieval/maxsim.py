"""MaxSim (Chamfer similarity) scoring: for each query token its best document token, summed.

A small numeric core with no framework around it: scores of given documents, and an exhaustive
top-k over a whole token store that reads the (memory-mapped) store once per call, in chunks of
documents, with all query tokens of a batch in one matrix product per chunk.

Precision: ``fp32`` multiplies in float32 (the float16 store converted); ``fp16`` multiplies the
stored float16 vectors directly (float32 accumulation, float16 products rounded to about 2.4e-4,
the same order as the float16 storage itself) and is several times faster on CPUs with AVX512-FP16,
because reranking is bound by reading and converting the candidates' vectors. ``auto`` picks fp16
on such CPUs, else fp32. The exhaustive and the reranking paths use the same arithmetic.

Quantised (int8) vectors are converted to the arithmetic's type a block at a time and never
dequantised as such: each similarity is multiplied by its document token's scale instead
(``q · (c s) = (q · c) s``), a matrix query tokens x document tokens rather than document tokens x
dimensions.
"""

from __future__ import annotations

import numpy as np
from regard.progress import progress_bar

from regard.encoders.multivector import RaggedVectors
from regard.errors import RegardError

CHUNK_TOKENS = 32768  # document tokens per chunk of the exhaustive scan
QUERY_BATCH_TOKENS = 1024  # query tokens per matrix product
BLOCK_TOKENS = 16384  # document tokens per block when scoring given documents (the rerank)
PRECISIONS = ("auto", "fp32", "fp16")


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``fp16`` where the CPU multiplies float16 natively, else ``fp32``."""
    from regard.models import cpu_has_fast_fp16

    if precision not in PRECISIONS:
        raise RegardError(f"MaxSim precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "fp16" if cpu_has_fast_fp16() else "fp32"
    return precision


def similarities(queries: np.ndarray, documents: np.ndarray, precision: str = "fp32",
                 scales: np.ndarray | None = None) -> np.ndarray:
    """Token similarities ``queries @ documents.T`` as float32, computed at ``precision`` (fp32 or fp16).

    With ``scales`` (quantised ``documents``), column ``t`` is multiplied by ``scales[t]``.
    """
    import torch

    dtype = torch.float16 if precision == "fp16" else torch.float32
    q = torch.from_numpy(np.ascontiguousarray(queries)).to(dtype)
    d = torch.from_numpy(np.require(documents, requirements=["C", "W"])).to(dtype)
    sims = (q @ d.T).float()
    if scales is not None:
        sims *= torch.from_numpy(np.asarray(scales, dtype=np.float32))
    return sims.numpy()


def maxsim(query: np.ndarray, documents: RaggedVectors, precision: str = "fp32",
           positions: np.ndarray | None = None, block_tokens: int = BLOCK_TOKENS) -> np.ndarray:
    """MaxSim of one query (``[q, d]``) against document groups; float32, one score per group.

    ``positions`` picks the groups (default: all, in order); ``documents`` may be a memory-mapped token
    store. The groups' stored vectors are copied, in position order, into one reused buffer of about
    ``block_tokens`` tokens (whole documents; a longer one alone), converted there to the arithmetic's
    type, and multiplied with the query a block at a time: no array of every candidate's vectors is
    made, converted or dequantised (int8 scales multiply the similarities).
    """
    import torch

    positions = np.arange(len(documents)) if positions is None else np.asarray(positions, dtype=np.int64)
    scores = np.zeros(len(positions), dtype=np.float32)
    if not len(positions):
        return scores
    order = np.argsort(positions, kind="stable")  # store order: sequential reads
    starts = documents.offsets[positions[order]]
    lengths = documents.offsets[positions[order] + 1] - starts
    arithmetic = np.float16 if precision == "fp16" else np.float32
    stored, scaled = documents.vectors.dtype, documents.scales is not None
    size = max(block_tokens, int(lengths.max()))
    raw = np.empty((size, documents.dimension), dtype=stored)
    block = raw if stored == arithmetic else np.empty((size, documents.dimension), dtype=arithmetic)
    block_scales = np.empty(size, dtype=np.float32) if scaled else None
    q = torch.from_numpy(np.ascontiguousarray(query, dtype=arithmetic))
    first, count = 0, len(positions)
    while first < count:
        last, filled = first, 0
        local = []
        while last < count and (last == first or filled + lengths[last] <= size):
            begin, length = int(starts[last]), int(lengths[last])
            raw[filled:filled + length] = documents.vectors[begin:begin + length]
            if scaled:
                block_scales[filled:filled + length] = documents.scales[begin:begin + length]
            local.append(filled)
            filled += length
            last += 1
        if block is not raw:  # torch converts float16 with F16C, far faster than numpy
            torch.from_numpy(block[:filled]).copy_(torch.from_numpy(raw[:filled]))
        sims = (torch.from_numpy(block[:filled]) @ q.T).float()  # [block tokens, query tokens]
        if scaled:
            sims *= torch.from_numpy(block_scales[:filled])[:, None]
        maxima = np.maximum.reduceat(sims.numpy(), local, axis=0)  # [documents, query tokens]
        scores[order[first:last]] = maxima.sum(axis=1)
        first = last
    return scores


def _query_batches(queries: RaggedVectors, limit: int) -> list[tuple[int, int]]:
    batches, start = [], 0
    while start < len(queries):
        end = start + 1
        while end < len(queries) and queries.offsets[end + 1] - queries.offsets[start] <= limit:
            end += 1
        batches.append((start, end))
        start = end
    return batches


def exhaustive_maxsim(queries: RaggedVectors, store: RaggedVectors, k: int, progress: bool = False,
                      chunk_tokens: int = CHUNK_TOKENS,
                      query_batch_tokens: int = QUERY_BATCH_TOKENS,
                      precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` documents of ``store`` by exact MaxSim for every query.

    Returns ``(scores, positions)``, each ``[len(queries), min(k, len(store))]``, best first. Scores are
    computed at ``precision`` from the stored vectors, like :func:`maxsim` on the same documents.
    """
    import torch

    n_docs = len(store)
    k = min(k, n_docs)
    best_scores = torch.full((len(queries), k), -torch.inf)
    best_positions = torch.full((len(queries), k), -1, dtype=torch.long)
    batches = _query_batches(queries, query_batch_tokens)
    bar = progress_bar(total=n_docs, desc="Exhaustive MaxSim", unit="doc", disable=not progress)
    first = 0
    while first < n_docs:
        last = int(np.searchsorted(store.offsets, store.offsets[first] + chunk_tokens, side="right")) - 1
        last = min(max(last, first + 1), n_docs)
        lo, hi = int(store.offsets[first]), int(store.offsets[last])
        # A plain copy of the stored rows, converted by torch (F16C; numpy converts float16 element by element).
        chunk = torch.from_numpy(np.array(store.vectors[lo:hi])).to(
            torch.float16 if precision == "fp16" else torch.float32).numpy()
        scales = None if store.scales is None else np.array(store.scales[lo:hi], dtype=np.float32)
        starts = store.offsets[first:last] - lo
        for q0, q1 in batches:
            t0, t1 = int(queries.offsets[q0]), int(queries.offsets[q1])
            sims = similarities(queries.vectors[t0:t1], chunk, precision, scales)
            maxima = np.maximum.reduceat(sims, starts, axis=1)  # [query tokens, chunk docs]
            scores = np.add.reduceat(maxima, queries.offsets[q0:q1] - t0, axis=0)  # [queries, chunk docs]
            merged = torch.cat([best_scores[q0:q1], torch.from_numpy(scores)], dim=1)
            positions = torch.cat([best_positions[q0:q1],
                                   torch.arange(first, last).expand(q1 - q0, last - first)], dim=1)
            top = torch.topk(merged, k, dim=1)
            best_scores[q0:q1] = top.values
            best_positions[q0:q1] = torch.gather(positions, 1, top.indices)
        bar.update(last - first)
        first = last
    bar.close()
    return best_scores.numpy(), best_positions.numpy()
