"""``Index``: an index folder with its kind's build and retrieval stage (see kinds/registry.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.errors import RegardError
from regard.indexing.folder import CorpusLike, IndexFolder, build_index_folder
from regard.kinds.base import IndexKind
from regard.kinds.registry import KINDS, index_kind
from regard.pipeline import Stage


def _ray_options(kind: IndexKind, workers: int, cpus_per_worker: float, gpus_per_worker: float):
    """Ray pool options for an encoding build; checks first that the kind encodes and that Ray is installed."""
    from regard.scale_out.options import RayOptions
    from regard.scale_out.ray_runtime import require_ray

    if not any(p.name == "scale_out" for p in kind.build_parameters):
        encoding = [k.name for k in KINDS.values() if any(p.name == "scale_out" for p in k.build_parameters)]
        raise RegardError(f"--ray spreads encoding over workers: it applies to {', '.join(encoding)}, not {kind.name!r}")
    require_ray()
    return RayOptions(workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker)


class Index(IndexFolder):
    """An index directory: ``manifest.json``, ``docstore.sqlite`` and the kind's payload."""

    @classmethod
    def build(cls, corpus: CorpusLike, out: str | Path, kind: str = "bm25", *, overwrite: bool = False,
              ray: bool = False, workers: int = 2, gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0,
              **params: Any) -> "Index":
        """Build an index of ``kind`` over ``corpus`` into ``out`` (kinds: ``regard.kinds.KINDS``).

        ``corpus`` is a Corpus, a file or BEIR folder path, a dataset name or ``irds:<id>``, a dataset, or
        an iterable of Documents. ``params`` are the kind's build parameters (e.g. ``backend="bm25s"``,
        ``model=...``, ``faiss_type="hnsw"``), checked by name and type before anything is read.
        The index is built in a staging folder beside ``out`` and renamed into place at the end; an
        interrupted build leaves ``out`` untouched, and a rerun resumes cached encoding work.
        With ``ray=True`` a kind that encodes (its builder takes ``scale_out``: dense, dense-chunked,
        multivector, muvera) encodes on ``workers`` Ray actors, each reserving ``cpus_per_worker`` CPUs and
        ``gpus_per_worker`` GPUs, on the cluster at ``RAY_ADDRESS`` or a local one (docs/SCALING_OUT.md);
        the index is the same.
        """
        declaration = index_kind(kind)
        checked = declaration.check_build(params)
        if ray:
            checked["scale_out"] = _ray_options(declaration, workers, cpus_per_worker, gpus_per_worker)
        build_index_folder(corpus, out, kind, lambda staging, docs, fingerprint: declaration.builder(
            staging, docs, fingerprint, **checked), overwrite=overwrite)
        return cls.open(out)

    def retriever(self, k: int = 1000, **options: Any) -> Stage:
        """The retrieval stage of this index's kind, returning the top ``k``; ``options`` are its search parameters."""
        return index_kind(self.manifest.kind).open_retriever(self, k=k, **options)
