"""On-disk indexes: manifest, docstore, Lucene, bm25s and FAISS payloads, atomic builds."""

from regard.indexing.docstore import DocStore
from regard.indexing.index import Index
from regard.indexing.manifest import Manifest

__all__ = ["DocStore", "Index", "Manifest"]
