"""An index folder on disk: build one atomically from any corpus, and open it (storage only).

Which payload a kind writes and which stage reads it is declared in ``regard.kinds``; this module
knows only the folder: ``manifest.json``, ``docstore.sqlite`` and the payload files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from regard.data.corpus import Corpus, checked_documents
from regard.data.types import Document
from regard.errors import BadIndexError, RegardError
from regard.indexing.atomic import atomic_directory
from regard.indexing.builders import BuildResult
from regard.indexing.docstore import DocStore, write_docstore
from regard.indexing.manifest import Manifest

CorpusLike = Corpus | str | Path | Iterable[Document]


def as_corpus(corpus) -> Corpus | Iterable[Document]:
    """A Corpus from a path or a dataset name; datasets and document iterables pass through."""
    from regard.datasets import IRDS_PREFIX, REGISTRY, Dataset, load_dataset

    if isinstance(corpus, Dataset) or hasattr(corpus, "qrels"):  # any dataset (also irds:, LoCo)
        return corpus.corpus
    if isinstance(corpus, (str, Path)):
        if Path(corpus).exists():
            return Corpus(corpus)
        if str(corpus) in REGISTRY or str(corpus).startswith(IRDS_PREFIX):
            return load_dataset(str(corpus)).corpus
        raise RegardError(f"{corpus}: no such file or folder, and not a dataset name (see: regard datasets list)")
    return checked_documents(corpus)


def _describe(corpus) -> str:
    return str(getattr(corpus, "path", None) or type(corpus).__name__)


class IndexFolder:
    """A built index directory: ``manifest.json``, ``docstore.sqlite`` and the kind's payload."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = Manifest.read(self.folder)
        self._docstore: DocStore | None = None

    @classmethod
    def open(cls, folder: str | Path):
        """Open a built index; raises BadIndexError when the folder is not a complete index."""
        if not Path(folder).is_dir():
            raise BadIndexError(f"{folder}: no such index folder")
        return cls(folder)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def docstore(self) -> DocStore:
        if self._docstore is None:
            self._docstore = DocStore(self.folder)
        return self._docstore

    def __repr__(self) -> str:
        m = self.manifest
        return (f"{type(self).__name__}({str(self.folder)!r}, kind={m.kind!r}, backend={m.backend!r}, "
                f"documents={m.document_count})")


Builder = Callable[[Path, DocStore, str], BuildResult]


def build_index_folder(corpus: CorpusLike, out: str | Path, kind: str, builder: Builder, *,
                       overwrite: bool = False) -> Path:
    """Build ``out`` from ``corpus``: the docstore, then ``builder(staging, docstore, fingerprint)``'s payload.

    Everything is written in a staging folder beside ``out`` and renamed into place at the end (see
    indexing/atomic.py); the manifest records what the builder reports. Returns ``out``.
    """
    from regard import __version__

    source = as_corpus(corpus)
    started = time.perf_counter()
    with atomic_directory(out, overwrite=overwrite) as staging:
        count, fingerprint = write_docstore(source, staging)
        if count == 0:
            raise RegardError(f"{_describe(source)}: the corpus has no non-empty documents")
        docs = DocStore(staging)
        try:
            result = builder(staging, docs, fingerprint)
        finally:
            docs.close()
        Manifest(
            kind=kind, backend=result.backend, document_count=count, corpus_fingerprint=fingerprint,
            corpus_source=_describe(source), parameters=result.parameters, model=result.model,
            model_revision=result.model_revision,
            skipped_empty_documents=getattr(source, "skipped_empty", 0),
            build_seconds=round(time.perf_counter() - started, 3), regard_version=__version__,
        ).write(staging)
    return Path(out)
