"""MUVERA fixed-dimensional encodings (FDEs): one vector per set of token vectors.

The inner product of a query FDE and a document FDE approximates the Chamfer (MaxSim) similarity of
the two sets, so an ordinary inner-product index finds multi-vector candidates (Dhulipala et al.,
"MUVERA: Multi-Vector Retrieval via Fixed Dimensional Encodings", NeurIPS 2024). Per repetition:

1. SimHash: ``k_sim`` Gaussian hyperplanes give each vector ``k_sim`` sign bits; the partition id is
   the number whose Gray code is those bits (the first hyperplane the most significant bit), so
   neighbouring ids differ in one bit. There are ``2**k_sim`` partitions.
2. Projection: ``x -> S x / sqrt(d_proj)`` with ``S`` a random ``d_proj x d`` matrix of ±1 entries
   (the identity when ``d_proj`` equals the input dimension or is None).
3. Blocks: a query block is the *sum* of the projected vectors falling in the partition, a document
   block their *average*. An empty document partition takes the projected vector of the document's
   point nearest to it in Hamming distance between SimHash bits (first such point on ties); query
   partitions are never filled.

``r_reps`` repetitions (independent seeds) are concatenated: ``r_reps * 2**k_sim * d_proj`` numbers,
optionally reduced to ``final_dimension`` by a Count-Sketch (sparse random projection) as in Google's
reference implementation. The same seed gives the same hyperplanes and projections for queries and
documents, so the configuration stored in an index manifest reproduces the query encoder exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from regard.progress import progress_bar

from regard.encoders.multivector import RaggedVectors
from regard.errors import RegardError

MAX_K_SIM = 16
_BLOCK_ELEMENTS = 1 << 22  # per-block work size: tokens x repetitions x max(partitions, d_proj)


@dataclass(frozen=True)
class FDEConfig:
    """Parameters of a fixed-dimensional encoding; stored in the index manifest."""

    dimension: int
    k_sim: int = 5
    d_proj: int | None = 16
    r_reps: int = 20
    final_dimension: int | None = None
    seed: int = 42
    fill_empty: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.dimension >= 1, f"token dimension must be positive, got {self.dimension}"),
            (0 <= self.k_sim <= MAX_K_SIM, f"k_sim must be between 0 and {MAX_K_SIM}, got {self.k_sim}"),
            (self.d_proj is None or self.d_proj >= 1, f"d_proj must be positive, got {self.d_proj}"),
            (self.r_reps >= 1, f"r_reps must be at least 1, got {self.r_reps}"),
            (self.final_dimension is None or self.final_dimension >= 1,
             f"final_dimension must be positive, got {self.final_dimension}"),
        ]
        for ok, message in checks:
            if not ok:
                raise RegardError(message)

    @property
    def partitions(self) -> int:
        return 1 << self.k_sim

    @property
    def projection_dimension(self) -> int:
        return self.dimension if self.identity_projection else int(self.d_proj)

    @property
    def identity_projection(self) -> bool:
        return self.d_proj is None or self.d_proj == self.dimension

    @property
    def raw_dimension(self) -> int:
        """Length before the final projection: r_reps x 2^k_sim x d_proj."""
        return self.r_reps * self.partitions * self.projection_dimension

    @property
    def output_dimension(self) -> int:
        return self.final_dimension or self.raw_dimension

    def as_dict(self) -> dict:
        return asdict(self)


def gray_code(values: np.ndarray) -> np.ndarray:
    """The Gray code of each integer: ``v ^ (v >> 1)``."""
    return values ^ (values >> 1)


def partition_ids(bits: np.ndarray) -> np.ndarray:
    """Partition id of each row of sign bits (last axis, first bit most significant).

    The id is the inverse Gray code of the bits: bit ``j`` of the id is the XOR of bits ``0..j``.
    """
    k = bits.shape[-1]
    prefix = np.bitwise_xor.accumulate(bits.astype(np.int64), axis=-1)
    weights = (1 << np.arange(k - 1, -1, -1, dtype=np.int64))
    return (prefix * weights).sum(axis=-1)


def _popcount(values: np.ndarray) -> np.ndarray:
    counts = np.zeros(values.shape, dtype=np.int64)
    values = values.copy()
    while np.any(values):
        counts += values & 1
        values >>= 1
    return counts


class FDEEncoder:
    """Encodes sets of token vectors into MUVERA FDEs; deterministic for a configuration and seed."""

    def __init__(self, config: FDEConfig):
        self.config = config
        c = config
        d, k, p = c.dimension, c.k_sim, c.projection_dimension
        simhash, projection = [], []
        for rep in range(c.r_reps):
            rng = np.random.default_rng([c.seed, rep])
            simhash.append(rng.standard_normal((d, k)).astype(np.float32))
            if not c.identity_projection:
                signs = rng.integers(0, 2, size=(d, p)).astype(np.float32) * 2 - 1
                projection.append(signs / np.float32(np.sqrt(p)))
        # All repetitions in one product: tokens @ (d x R*k) and tokens @ (d x R*d_proj).
        self._simhash = np.concatenate(simhash, axis=1) if k else None
        self._projection = np.concatenate(projection, axis=1) if projection else None
        ids = np.arange(c.partitions, dtype=np.int64)
        codes = gray_code(ids)
        self._hamming = _popcount(codes[:, None] ^ codes[None, :])  # [partition of point, partition]
        if c.final_dimension:
            rng = np.random.default_rng([c.seed, c.r_reps, 1])
            self._sketch_index = rng.integers(0, c.final_dimension, size=c.raw_dimension)
            self._sketch_sign = (rng.integers(0, 2, size=c.raw_dimension) * 2 - 1).astype(np.float32)

    @property
    def dimension(self) -> int:
        return self.config.output_dimension

    def encode_queries(self, queries: RaggedVectors) -> np.ndarray:
        """Query FDEs (sums per partition, never filled), float32 ``[n, output_dimension]``."""
        return self._encode(queries, average=False, progress=False)

    def encode_documents(self, documents: RaggedVectors, progress: bool = False) -> np.ndarray:
        """Document FDEs (averages per partition, empty partitions filled if configured)."""
        return self._encode(documents, average=True, progress=progress)

    # ----------------------------------------------------------------------------------------------

    def _encode(self, groups: RaggedVectors, average: bool, progress: bool) -> np.ndarray:
        c = self.config
        if groups.dimension != c.dimension:
            raise RegardError(f"token vectors have {groups.dimension} dimensions; the FDE expects {c.dimension}")
        lengths = groups.lengths
        if np.any(lengths == 0):
            raise RegardError(f"cannot encode an empty set of vectors (set {int(np.argmax(lengths == 0))})")
        out = np.zeros((len(groups), c.output_dimension), dtype=np.float32)
        # Bound a block's work: tokens x R x projected dimension, and sets x R x partitions x max(d_proj, 2^k).
        token_budget = max(1, _BLOCK_ELEMENTS // (c.r_reps * c.projection_dimension))
        set_budget = max(1, _BLOCK_ELEMENTS // (c.r_reps * c.partitions * max(c.projection_dimension, c.partitions)))
        bar = progress_bar(total=len(groups), desc="Encoding FDEs", unit="doc", disable=not progress)
        start = 0
        while start < len(groups):
            end = start + 1
            while (end < len(groups) and end - start < set_budget
                   and groups.offsets[end + 1] - groups.offsets[start] <= token_budget):
                end += 1
            out[start:end] = self._encode_block(groups, start, end, average)
            bar.update(end - start)
            start = end
        bar.close()
        return out

    def _encode_block(self, groups: RaggedVectors, start: int, end: int, average: bool) -> np.ndarray:
        """FDEs of sets ``start:end``: partition and project every token, then sum per partition."""
        import scipy.sparse
        import torch

        c = self.config
        R, P, dp = c.r_reps, c.partitions, c.projection_dimension
        first, last = int(groups.offsets[start]), int(groups.offsets[end])
        tokens = groups.rows(first, last)  # float32, dequantised from an int8 store
        count, n = end - start, last - first
        doc = np.repeat(np.arange(count, dtype=np.int64), groups.lengths[start:end])  # block-local set of each token
        if c.k_sim:
            pid = partition_ids((tokens @ self._simhash).reshape(n, R, c.k_sim) > 0)  # [T, R]
        else:
            pid = np.zeros((n, R), dtype=np.int64)
        if self._projection is not None:
            projected = (tokens @ self._projection).reshape(n * R, dp)  # row t * R + r
        else:
            projected = np.repeat(tokens, R, axis=0)
        slots = ((doc[:, None] * R + np.arange(R)[None, :]) * P + pid).reshape(-1)  # (set, repetition, partition)
        assign = scipy.sparse.csr_matrix((np.ones(n * R, np.float32), (slots, np.arange(n * R))),
                                         shape=(count * R * P, n * R))
        blocks = np.asarray(assign @ projected, dtype=np.float32).reshape(count, R, P, dp)
        if average:
            sizes = np.bincount(slots, minlength=count * R * P).reshape(count, R, P)
            filled = sizes > 0
            blocks[filled] /= sizes[filled][:, None]
            if c.fill_empty and c.k_sim and not filled.all():
                self._fill_empty(blocks, filled, slots, projected, groups.offsets[start:end + 1] - first)
        raw = blocks.reshape(count, -1)
        if not c.final_dimension:
            return raw
        final = torch.zeros((count, c.final_dimension), dtype=torch.float32)
        final.index_add_(1, torch.from_numpy(self._sketch_index), torch.from_numpy(raw * self._sketch_sign))
        return final.numpy()

    def _fill_empty(self, blocks: np.ndarray, filled: np.ndarray, slots: np.ndarray, projected: np.ndarray,
                    offsets: np.ndarray) -> None:
        """Give each empty (set, repetition, partition) the projection of the nearest point by Hamming distance.

        Only the first point of each occupied partition can be the nearest (ties go to the first point),
        so the search runs over occupied partitions: sets x R x 2^k x 2^k work instead of tokens x R x 2^k.
        """
        import torch

        count, reps, parts = filled.shape
        starts = offsets[:-1]
        span = int(np.diff(offsets).max()) + 1
        local = np.arange(len(slots) // reps, dtype=np.int64) - np.repeat(starts, np.diff(offsets))
        absent = (self.config.k_sim + 2) * span  # larger than any distance * span + position
        first = torch.full((count * reps * parts,), absent, dtype=torch.int64)
        first.scatter_reduce_(0, torch.from_numpy(slots),
                              torch.from_numpy(np.repeat(local, reps)), reduce="amin")
        first = first.numpy().reshape(count, reps, parts, 1)  # [set, rep, occupied partition q, 1]
        keys = self._hamming[None, None, :, :] * span + first  # [set, rep, q, empty partition p]
        nearest = starts[:, None, None] + keys.min(axis=2) % span  # [set, rep, p]
        sets, rep_ids, part_ids = np.nonzero(~filled)
        blocks[sets, rep_ids, part_ids] = projected[nearest[sets, rep_ids, part_ids] * reps + rep_ids]
