"""The ``ngram`` kind: the corpus in a causal LM's tokens in a suffix array, for SEAL generative retrieval."""

from regard.indexing.ngram import build_ngram
from regard.kinds.base import IndexKind

KIND = IndexKind(
    name="ngram",
    summary="suffix-array n-gram index searched by constrained LM decoding (SEAL)",
    builder=build_ngram,
    retriever="regard.retrieval.generative:Generative",
    help={
        "model": "The causal LM whose tokens the index holds (default SmolLM2-135M-Instruct).",
        "beam_size": "Beams of the constrained decoder.",
        "max_length": "Tokens per generated n-gram.",
    },
)
