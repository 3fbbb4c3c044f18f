"""The ``dense`` kind: one vector per document from a bi-encoder, in FAISS."""

from regard.indexing.builders import build_dense
from regard.kinds.base import IndexKind
from regard.kinds.common import DENSE_ENCODER_CHOICES, DENSE_ENCODER_HELP, FAISS_FLAGS, FAISS_HELP

KIND = IndexKind(
    name="dense",
    summary="bi-encoder vectors in FAISS (flat, HNSW or IVF-PQ)",
    builder=build_dense,
    retriever="regard.retrieval.dense:DenseRetriever",
    help={**DENSE_ENCODER_HELP, **FAISS_HELP},
    choices=DENSE_ENCODER_CHOICES,
    flags=FAISS_FLAGS,
)
