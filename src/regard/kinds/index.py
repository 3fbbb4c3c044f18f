"""``Index``: an index folder with its kind's build and retrieval stage (see kinds/registry.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.indexing.folder import CorpusLike, IndexFolder, build_index_folder
from regard.kinds.registry import index_kind
from regard.pipeline import Stage


class Index(IndexFolder):
    """An index directory: ``manifest.json``, ``docstore.sqlite`` and the kind's payload."""

    @classmethod
    def build(cls, corpus: CorpusLike, out: str | Path, kind: str = "bm25", *, overwrite: bool = False,
              **params: Any) -> "Index":
        """Build an index of ``kind`` over ``corpus`` into ``out`` (kinds: ``regard.kinds.KINDS``).

        ``corpus`` is a Corpus, a file or BEIR folder path, a dataset name or ``irds:<id>``, a dataset, or
        an iterable of Documents. ``params`` are the kind's build parameters (e.g. ``backend="bm25s"``,
        ``model=...``, ``faiss_type="hnsw"``), checked by name and type before anything is read.
        The index is built in a staging folder beside ``out`` and renamed into place at the end; an
        interrupted build leaves ``out`` untouched, and a rerun resumes cached encoding work.
        """
        declaration = index_kind(kind)
        checked = declaration.check_build(params)
        build_index_folder(corpus, out, kind, lambda staging, docs, fingerprint: declaration.builder(
            staging, docs, fingerprint, **checked), overwrite=overwrite)
        return cls.open(out)

    def retriever(self, k: int = 1000, **options: Any) -> Stage:
        """The retrieval stage of this index's kind, returning the top ``k``; ``options`` are its search parameters."""
        return index_kind(self.manifest.kind).open_retriever(self, k=k, **options)
