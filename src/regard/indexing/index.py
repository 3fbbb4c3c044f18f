"""The on-disk index: build one atomically from any corpus, open it, and get its retrieval stage."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from regard.data.corpus import Corpus, checked_documents
from regard.data.types import Document
from regard.errors import BadIndexError, RegardError
from regard.indexing.atomic import atomic_directory
from regard.indexing.builders import BUILDERS
from regard.indexing.docstore import DocStore, write_docstore
from regard.indexing.manifest import Manifest
from regard.pipeline import Stage

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


RAY_KINDS = ("dense", "dense-chunked", "multivector", "muvera")


def _ray_options(kind: str, workers: int, cpus_per_worker: float, gpus_per_worker: float):
    """Ray pool options for an encoding build; checks first that the kind encodes and that Ray is installed."""
    from regard.scale_out.options import RayOptions
    from regard.scale_out.ray_runtime import require_ray

    if kind not in RAY_KINDS:
        raise RegardError(f"--ray spreads encoding over workers: it applies to {', '.join(RAY_KINDS)}, not {kind!r}")
    require_ray()
    return RayOptions(workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker)


def _describe(corpus) -> str:
    return str(getattr(corpus, "path", None) or type(corpus).__name__)


class Index:
    """An index directory: ``manifest.json``, ``docstore.sqlite`` and the kind's payload."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = Manifest.read(self.folder)
        self._docstore: DocStore | None = None

    @classmethod
    def open(cls, folder: str | Path) -> "Index":
        """Open a built index; raises BadIndexError when the folder is not a complete index."""
        if not Path(folder).is_dir():
            raise BadIndexError(f"{folder}: no such index folder")
        return cls(folder)

    @classmethod
    def build(cls, corpus: CorpusLike, out: str | Path, kind: str = "bm25", *, overwrite: bool = False,
              ray: bool = False, workers: int = 2, gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0,
              **params) -> "Index":
        """Build an index of ``kind`` (``bm25``, ``dense``, ``multivector`` or ``muvera``) over ``corpus`` into ``out``.

        ``corpus`` is a Corpus, a file or BEIR folder path, a dataset name or ``irds:<id>``, a dataset, or an
        iterable of Documents.
        The index is built in a staging folder beside ``out`` and renamed into place at the end; an
        interrupted build leaves ``out`` untouched, and a rerun resumes cached encoding work.
        Extra ``params`` go to the kind's builder (e.g. ``backend="bm25s"``, ``model=...``, ``faiss_type="hnsw"``).
        With ``ray=True`` the encoding kinds (dense, dense-chunked, multivector, muvera) encode on
        ``workers`` Ray actors, each reserving ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs, on the
        cluster at ``RAY_ADDRESS`` or a local one (see docs/SCALING_OUT.md); the index is the same.
        """
        if kind not in BUILDERS:
            raise ValueError(f"unknown index kind {kind!r}; expected one of {sorted(BUILDERS)}")
        if ray:
            params["scale_out"] = _ray_options(kind, workers, cpus_per_worker, gpus_per_worker)
        from regard import __version__

        source = as_corpus(corpus)
        started = time.perf_counter()
        with atomic_directory(out, overwrite=overwrite) as staging:
            count, fingerprint = write_docstore(source, staging)
            if count == 0:
                raise RegardError(f"{_describe(source)}: the corpus has no non-empty documents")
            docs = DocStore(staging)
            try:
                result = BUILDERS[kind](staging, docs, fingerprint, **params)
            finally:
                docs.close()
            Manifest(
                kind=kind, backend=result.backend, document_count=count, corpus_fingerprint=fingerprint,
                corpus_source=_describe(source), parameters=result.parameters, model=result.model,
                model_revision=result.model_revision,
                skipped_empty_documents=getattr(source, "skipped_empty", 0),
                build_seconds=round(time.perf_counter() - started, 3), regard_version=__version__,
            ).write(staging)
        return cls.open(out)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def docstore(self) -> DocStore:
        if self._docstore is None:
            self._docstore = DocStore(self.folder)
        return self._docstore

    def retriever(self, k: int = 1000, **options) -> Stage:
        """The retrieval stage for this index (BM25 or DenseRetriever), returning the top ``k``."""
        kind = self.manifest.kind
        if kind == "bm25":
            from regard.retrieval.bm25 import BM25

            return BM25(self, k=k, **options)
        if kind == "dense":
            from regard.retrieval.dense import DenseRetriever

            return DenseRetriever(self, k=k, **options)
        if kind == "multivector":
            from regard.retrieval.multivector import MaxSimRetriever

            return MaxSimRetriever(self, k=k, **options)
        if kind == "muvera":
            from regard.retrieval.multivector import MuveraRetriever

            return MuveraRetriever(self, k=k, **options)
        if kind == "dense-chunked":
            from regard.retrieval.chunked import ChunkedDenseRetriever

            return ChunkedDenseRetriever(self, k=k, **options)
        if kind == "ngram":
            from regard.retrieval.generative import Generative

            return Generative(self, k=k, **options)
        raise BadIndexError(f"{self.folder}: no retriever for index kind {kind!r}")

    def __repr__(self) -> str:
        m = self.manifest
        return f"Index({str(self.folder)!r}, kind={m.kind!r}, backend={m.backend!r}, documents={m.document_count})"
