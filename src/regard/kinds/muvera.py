"""The ``muvera`` kind: token store plus MUVERA fixed-dimensional encodings in FAISS, MaxSim rerank."""

from regard.indexing.multivector import build_muvera
from regard.kinds.base import IndexKind
from regard.kinds.common import FAISS_FLAGS, FAISS_HELP
from regard.kinds.multivector import TOKEN_CHOICES, TOKEN_FLAGS, TOKEN_HELP

KIND = IndexKind(
    name="muvera",
    summary="MUVERA FDEs searched in FAISS, the top candidates reranked by exact MaxSim",
    builder=build_muvera,
    retriever="regard.retrieval.multivector:MuveraRetriever",
    help={
        **TOKEN_HELP, **FAISS_HELP,
        "k_sim": "SimHash bits (2^k_sim partitions).",
        "d_proj": "Projected dimension per partition (0 or none: no projection).",
        "r_reps": "Repetitions.",
        "final_dimension": "Final Count-Sketch dimension (default: none).",
        "seed": "Seed of hyperplanes and projections.",
        "fill_empty": "Fill empty document partitions from the nearest point (the paper's choice).",
        "fde_pq": "Store FDEs product-quantised (FAISS pq: 1/32 of float32, as the paper compresses them).",
        "candidates": "FDE candidates reranked by exact MaxSim.",
        "rerank": "Rerank the candidates by MaxSim (off: FDE scores alone).",
        "ef_search": "HNSW search depth of an index built with --faiss hnsw.",
    },
    choices=TOKEN_CHOICES,
    flags={**TOKEN_FLAGS, **FAISS_FLAGS, "final_dimension": "--final-dim"},
)
