"""The ``bm25`` kind: Lucene through pyserini (default) or bm25s, searched by BM25."""

from regard.indexing.builders import build_bm25
from regard.kinds.base import IndexKind

KIND = IndexKind(
    name="bm25",
    summary="BM25 over title + text (Lucene's English analyzer, or bm25s without Java)",
    builder=build_bm25,
    retriever="regard.retrieval.bm25:BM25",
    help={
        "backend": "BM25 engine: Lucene through pyserini, or bm25s (no Java).",
        "k1": "BM25 k1 (BEIR flat reference 0.9); a Lucene index also takes it at search time.",
        "b": "BM25 b (BEIR flat reference 0.4); a Lucene index also takes it at search time.",
        "threads": "Lucene indexing threads (build) or search threads; results are the same for any number.",
    },
    choices={"backend": ("lucene", "bm25s")},
)
