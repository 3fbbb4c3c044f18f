"""On-disk indexes (storage): manifest, docstore, Lucene, bm25s, FAISS and token payloads, atomic builds.

Index kinds (which payload, which retrieval stage) are declared in ``regard.kinds``, which hosts ``Index``.
"""

from regard.indexing.docstore import DocStore
from regard.indexing.folder import IndexFolder
from regard.indexing.manifest import Manifest

__all__ = ["DocStore", "IndexFolder", "Manifest"]
