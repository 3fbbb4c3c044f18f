"""Where rerankers get document texts: an Index, a DocStore, or an index folder."""

from __future__ import annotations

from pathlib import Path
from typing import Union

from regard.indexing.docstore import DocStore
from regard.indexing.index import Index

DocumentSource = Union[Index, DocStore, str, Path]


def as_docstore(source: DocumentSource) -> tuple[DocStore, str]:
    """The docstore of ``source`` and a key naming its corpus (the fingerprint when known)."""
    if isinstance(source, DocStore):
        return source, str(source.path.resolve())
    index = source if isinstance(source, Index) else Index.open(source)
    return index.docstore, index.manifest.corpus_fingerprint
