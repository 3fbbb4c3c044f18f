"""The ``multivector`` kind: every document's token vectors, searched by exhaustive MaxSim (the reference)."""

from regard.indexing.multivector import build_multivector
from regard.indexing.token_store import STORE_FORMATS
from regard.kinds.base import IndexKind
from regard.kinds.common import ENCODER_CHOICES, ENCODER_HELP

TOKEN_HELP = {
    **ENCODER_HELP,
    "model": "Token encoder: a ColBERT checkpoint or any Hugging Face encoder (default all-MiniLM-L6-v2).",
    "document_max_length": "Document tokens kept (default: the model's length; ColBERT doc_maxlen).",
    "query_max_length": "Query tokens (default 64; ColBERT query_maxlen).",
    "progress": "Show a progress bar over the exhaustive scan.",
    "token_store": "Stored token vectors: float16, or int8 (a scale per token vector: about half the bytes; "
                   "on SciFact the same exhaustive MaxSim top-10 as float16).",
}
TOKEN_FLAGS = {"document_max_length": "--doc-max-length"}
TOKEN_CHOICES = {**ENCODER_CHOICES, "token_store": STORE_FORMATS}

KIND = IndexKind(
    name="multivector",
    summary="token vectors in a memory-mapped store, exact MaxSim over every document",
    builder=build_multivector,
    retriever="regard.retrieval.multivector:MaxSimRetriever",
    help=TOKEN_HELP,
    choices=TOKEN_CHOICES,
    flags=TOKEN_FLAGS,
)
