"""The ``dense-chunked`` kind: one vector per overlapping window of each document; documents ranked from them."""

from regard.indexing.builders import build_dense
from regard.indexing.chunks import AGGREGATES, build_dense_chunked
from regard.kinds.base import IndexKind
from regard.kinds.common import DENSE_ENCODER_CHOICES, DENSE_ENCODER_HELP, FAISS_FLAGS, FAISS_HELP

KIND = IndexKind(
    name="dense-chunked",
    summary="windows of long documents encoded separately; MaxP, FirstP or sum of the top windows",
    builder=build_dense_chunked,
    also_builds_with=build_dense,
    retriever="regard.retrieval.chunked:ChunkedDenseRetriever",
    help={
        **DENSE_ENCODER_HELP, **FAISS_HELP,
        "chunk_tokens": "Tokens per window, special tokens included.",
        "overlap": "Tokens neighbouring windows share.",
        "aggregate": "Document score from its windows: best (maxp), first (firstp), sum of the top (sumtop).",
        "top_chunks": "Windows summed by sumtop.",
        "depth": "Chunks the first search returns (default: enough for k documents, at least 100).",
    },
    choices={**DENSE_ENCODER_CHOICES, "aggregate": AGGREGATES},
    flags={**FAISS_FLAGS, "overlap": "--chunk-overlap"},
)
