"""What the service serves: a pipeline, the docstores that hold its texts, and what it is made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from regard.errors import RegardError
from regard.indexing.docstore import DocStore
from regard.kinds import Index
from regard.pipeline import Stage

CONFIG_SUFFIXES = (".yaml", ".yml")


@dataclass
class ServedPipeline:
    """A pipeline with the indexes and docstores it reads, and a description for ``GET /info``."""

    stage: Stage
    description: str
    indexes: list[Index] = field(default_factory=list)
    docstores: list[DocStore] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    config: str | None = None

    def info(self) -> dict[str, Any]:
        """The pipeline, its index manifests and models, as JSON-ready values."""
        manifests = [{"folder": str(index.folder), **asdict(index.manifest)} for index in self.indexes]
        models = self.models or [{"index": m["folder"], "model": m["model"], "revision": m["model_revision"]}
                                 for m in manifests if m.get("model")]
        return {"pipeline": self.description, "config": self.config, "indexes": manifests, "models": models}


def served_pipeline(pipeline: Stage | ServedPipeline) -> ServedPipeline:
    """Wrap a stage, finding the indexes and docstores inside it (retrievers' ``index``, rerankers' ``docstore``)."""
    if isinstance(pipeline, ServedPipeline):
        return pipeline
    if not isinstance(pipeline, Stage):
        raise TypeError(f"expected a regard Stage or ServedPipeline, got {type(pipeline).__name__}")
    indexes: list[Index] = []
    docstores: list[DocStore] = []
    _collect(pipeline, indexes, docstores, set())
    return ServedPipeline(pipeline, pipeline.name, indexes, docstores)


def _collect(stage: Any, indexes: list[Index], docstores: list[DocStore], seen: set[int]) -> None:
    if id(stage) in seen:
        return
    seen.add(id(stage))
    index = getattr(stage, "index", None)
    if isinstance(index, Index) and all(index.folder != i.folder for i in indexes):
        indexes.append(index)
        docstores.append(index.docstore)
    store = getattr(stage, "docstore", None)
    if isinstance(store, DocStore) and all(store.path != s.path for s in docstores):
        docstores.append(store)
    for child in [getattr(stage, "inner", None), *(getattr(stage, "stages", None) or [])]:
        if isinstance(child, Stage):
            _collect(child, indexes, docstores, seen)


def load_pipeline(spec: str, dataset: str | None = None, depth: int = 1000, device: str | None = None) -> ServedPipeline:
    """Open what ``spec`` names: an index folder, a pipeline expression, or a YAML pipeline config.

    A config builds (or reuses) its indexes for ``dataset``; an index folder or expression retrieves
    ``depth`` documents per retriever, as ``regard eval`` does.
    """
    if spec.endswith(CONFIG_SUFFIXES) and Path(spec).is_file():
        return _load_config(spec, dataset, device)
    if dataset is not None:
        raise RegardError(f"{spec}: --dataset applies to pipeline configs (.yaml) only")
    from regard.pipeline_spec import PipelineParser

    parser = PipelineParser(k=depth)
    served = served_pipeline(parser.parse(spec))
    served.description = spec
    return served


def _load_config(path: str, dataset: str | None, device: str | None) -> ServedPipeline:
    from regard.datasets import load_dataset
    from regard.experiments.build import PipelineBuilder
    from regard.experiments.config import load_config
    from regard.experiments.runner import Workspace
    from regard.experiments.stage_cache import Ledger
    from regard.experiments.stages import StageContext

    if dataset is None:
        raise RegardError(f"{path}: a pipeline config builds its indexes for a dataset: add --dataset NAME")
    config = load_config(path)
    context = StageContext(dataset=load_dataset(dataset), indexes=Workspace.default().indexes, device=device)
    stage = PipelineBuilder(context, None, Ledger(), root_key="serve").build_root(config.pipeline, config.where)
    served = served_pipeline(stage)
    for index in context.opened:
        if all(index.folder != i.folder for i in served.indexes):
            served.indexes.append(index)
            served.docstores.append(index.docstore)
    served.description, served.config, served.models = config.name, path, list(context.records)
    return served
