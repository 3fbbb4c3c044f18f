"""The stage registry: pipeline configs name stages by type, and each type maps to a factory.

A factory takes the stage's parameters (a :class:`Params`, which names the config file, line and field
in every error) and a :class:`StageContext` (the dataset, the index cache, the device, and a way to
build child stages), and returns a :class:`~regard.pipeline.Stage`. Stage types are registered by the
config layer, never by the stages' own modules (they come earlier in the flow). Adding a stage type is
one decorated function in a module of ``regard.experiments`` (or of a plugin package), plus that
module's name in ``PLUGIN_MODULES`` below::

    from regard.experiments.stages import register_stage

    @register_stage("my-reranker", shorthand="model")        # `- my-reranker: MODEL` is then allowed
    def _my_reranker(params, context):
        model = params.get("model", str, "org/default-model")   # typed; errors name file, line, field
        depth = params.positive("depth", 100)
        params.finish()                                          # unknown parameters are errors
        from regard.rerank.mine import MyReranker                # heavy imports after the checks
        stage = MyReranker(context.document_index(), model, depth=depth, device=context.device)
        context.record_model("my-reranker", model, stage.revision)   # provenance
        return stage

Read every parameter and call ``params.finish()`` before asking the context for an index or loading
a model: configs are checked whole (``context.checking``) before anything is built.

Built-in types (registered at the bottom of this module): ``bm25``, ``dense``, ``cross-encoder``,
``run-file``, ``candidates``, ``cutoff``, ``rrf``, ``weighted-fusion`` and ``index`` (any index kind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from regard.errors import InputFormatError, RegardError
from regard.pipeline import Cutoff, Stage

if TYPE_CHECKING:
    from regard.datasets import Dataset
    from regard.experiments.index_cache import IndexCache
    from regard.kinds import Index
    from regard.scale_out.options import RayOptions

_MISSING = object()


class ConfigError(InputFormatError):
    """A pipeline config that is malformed; names the file, the line and the field."""


@dataclass(frozen=True)
class Where:
    """A place in a config file, for error messages: file, 1-based line, dotted field path."""

    path: str
    line: int | None = None
    field: str = ""

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.path, message, line=self.line, field=self.field or None)

    def child(self, name: str | int, line: int | None = None) -> "Where":
        label = f"{self.field}[{name}]" if isinstance(name, int) else (f"{self.field}.{name}" if self.field else name)
        return Where(self.path, line if line is not None else self.line, label)


class CheckOnly(Exception):
    """Raised by a checking context where a factory would start real work: its parameters were read."""


class Params:
    """A stage's parameters from a config; typed access, with unknown names reported by :meth:`finish`."""

    def __init__(self, values: dict[str, Any], where: Where, lines: dict[str, int] | None = None):
        self.values = dict(values)
        self.where = where
        self.lines = lines or {}
        self._used: set[str] = set()

    def at(self, name: str) -> Where:
        """Where parameter ``name`` is written."""
        return self.where.child(name, self.lines.get(name))

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        """The value of ``name``, checked against ``kind``; ``default`` when absent (required without one)."""
        self._used.add(name)
        if name not in self.values or self.values[name] is None:
            if default is _MISSING:
                raise self.where.error(f"missing parameter '{name}'")
            return default
        value = self.values[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise self.at(name).error(f"expected {wanted}, got {type(value).__name__} {value!r}")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        """A string parameter restricted to ``options``."""
        value = self.get(name, str, default)
        if value not in options:
            raise self.at(name).error(f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def positive(self, name: str, default: int | object = _MISSING) -> int:
        """A positive integer parameter."""
        value = self.get(name, int, default)
        if value < 1:
            raise self.at(name).error(f"must be at least 1, got {value}")
        return value

    def finish(self) -> None:
        """Raise on parameters the factory did not read (a typo, or a parameter of another stage)."""
        unknown = sorted(set(self.values) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used)) or "none"
            raise self.at(unknown[0]).error(f"unknown parameter '{unknown[0]}' (this stage takes: {known})")


@dataclass
class StageContext:
    """What a factory may use besides its parameters.

    ``indexes`` builds or reuses indexes of ``dataset`` keyed by their parameters; ``build_child``
    turns a nested pipeline node (for fusions) into a stage, with caching; ``records`` collects the
    models and indexes the pipeline uses, for the provenance record.

    Every config is first checked whole with ``checking=True``: then ``index`` and ``document_index``
    raise :class:`CheckOnly`, so a factory should read all its parameters (and call
    ``params.finish()``) before it asks for an index or loads a model; a bad parameter in the last
    stage then fails before the first stage builds anything. A factory that loads a model without an
    index should return early when ``context.checking`` is true.
    """

    dataset: "Dataset"
    indexes: "IndexCache"
    device: str | None = None
    build_child: Callable[[Any, Where], Stage] | None = None
    checking: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    opened: list["Index"] = field(default_factory=list)
    scale_out: "RayOptions | None" = None
    distributed: list[Stage] = field(default_factory=list)
    models_used: list[tuple[str, str]] = field(default_factory=list)

    def reranker(self, stage_class: type, model: str, role: str, **options: Any) -> Stage | None:
        """``stage_class`` over the document index on Ray workers when the run asks for Ray, else None.

        With ``scale_out`` set, the reranker's recipe (class, document index, model and ``options``)
        is run by :class:`~regard.scale_out.rerank.DistributedStage` on query batches; the model loads
        only on the workers, so the provenance record names the model and its revision as resolved
        here. Without it the factory builds the stage itself (None tells it to).
        """
        if self.scale_out is None:
            return None
        from regard.models import model_revision
        from regard.scale_out.rerank import distributed_reranker

        stage = distributed_reranker(stage_class, self.document_index().folder, model,
                                     {"device": self.device, **options}, self.scale_out)
        self.distributed.append(stage)
        self.record_model(role, model, model_revision(model), workers=self.scale_out.workers,
                          **{k: v for k, v in options.items() if k in ("precision", "max_words")})
        return stage

    def close(self) -> None:
        """Stop the Ray workers of the distributed rerankers (if any)."""
        for stage in self.distributed:
            stage.close()
        self.distributed.clear()

    def index(self, kind: str, **params: Any) -> "Index":
        """The ``kind`` index of the dataset with ``params``, built into the cache on first use."""
        if self.checking:
            raise CheckOnly
        index = self.indexes.get(self.dataset, kind, **params)
        if all(index.folder != seen.folder for seen in self.opened):
            self.opened.append(index)
        m = index.manifest
        self.record({"index": index.folder.name, "kind": m.kind, "backend": m.backend, "parameters": m.parameters,
                     "documents": m.document_count, "corpus_fingerprint": m.corpus_fingerprint})
        return index

    def document_index(self) -> "Index":
        """An index whose docstore holds the dataset's texts (for rerankers).

        The first index this pipeline opened, else any cached index of the dataset, else a new BM25 one.
        """
        if self.checking:
            raise CheckOnly
        if self.opened:
            return self.opened[0]
        return self.indexes.any_existing(self.dataset) or self.index("bm25", backend="lucene")

    def record_model(self, role: str, name: str, revision: str | None = None, **details: Any) -> None:
        """Note a model the pipeline uses: its name and revision go into the provenance record and, for
        the stage being built, into its cache key (a default model is keyed like a named one)."""
        self.models_used.append((name, revision or ""))
        self.record({"model": name, "role": role, "revision": revision, **details})

    def record(self, entry: dict[str, Any]) -> None:
        """Add ``entry`` to the provenance records (once)."""
        if entry not in self.records:
            self.records.append(entry)

    def child(self, node: Any, where: Where) -> Stage:
        """Build a nested pipeline node (a fusion's input) into a stage."""
        if self.build_child is None:
            raise RegardError("this context cannot build nested stages")
        return self.build_child(node, where)


StageFactory = Callable[[Params, StageContext], Stage]


@dataclass(frozen=True)
class Registration:
    """A stage type: its factory, the parameter a bare scalar stands for, and whether outputs are cached."""

    name: str
    factory: StageFactory
    shorthand: str | None = None
    cache: bool = True
    description: str = ""


_REGISTRY: dict[str, Registration] = {}


def register_stage(name: str, factory: StageFactory | None = None, *, shorthand: str | None = None,
                   cache: bool = True, description: str = "", replace: bool = False):
    """Register ``factory`` as stage type ``name``; usable as a decorator.

    ``shorthand`` names the parameter that a bare scalar fills (``cutoff: 100`` means ``{k: 100}``).
    ``cache=False`` for a stage whose output must not be stored (it is then recomputed, and its time
    measured, on every run, so the reported seconds of a pipeline holding it vary between runs).
    """
    def add(function: StageFactory) -> StageFactory:
        if name in _REGISTRY and not replace and _REGISTRY[name].factory is not function:
            raise ValueError(f"stage type {name!r} is already registered")
        _REGISTRY[name] = Registration(name, function, shorthand, cache, description or (function.__doc__ or "").strip())
        return function

    return add(factory) if factory is not None else add


def registration(name: str, where: Where | None = None) -> Registration:
    """The registration of stage type ``name``; an error listing the known types otherwise."""
    _load_plugins()
    if name not in _REGISTRY:
        message = f"unknown stage type {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        raise where.error(message) if where else RegardError(message)
    return _REGISTRY[name]


def registered_stages() -> dict[str, Registration]:
    """Every registered stage type, by name."""
    _load_plugins()
    return dict(sorted(_REGISTRY.items()))


# Modules that register stage types of their own when imported (optional ones may be absent).
PLUGIN_MODULES: list[str] = ["regard.experiments.llm_stages"]
_loaded = False


def _load_plugins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for module in PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as err:
            if err.name and module.startswith(err.name):  # the module itself is missing, not one of its imports
                continue
            raise


# ---------------------------------------------------------------------------------------------------
# Built-in stage types.


@register_stage("bm25")
def _bm25(params: Params, context: StageContext) -> Stage:
    """BM25 over a Lucene (default) or bm25s index of the dataset; parameters backend, k1, b, k, threads.

    Lucene applies k1 and b at search time, so one index serves every setting (they are not part of
    its cache key); bm25s stores scores computed with them, so they select its index.
    ``threads`` searches that many queries at once (the same results as one thread).
    """
    backend = params.choice("backend", ("lucene", "bm25s"), "lucene")
    k1, b = params.get("k1", float, 0.9), params.get("b", float, 0.4)
    k = params.positive("k", 1000)
    threads = params.positive("threads", 1)
    params.finish()
    if backend == "bm25s":
        return context.index("bm25", backend=backend, k1=k1, b=b).retriever(k=k, threads=threads)
    return context.index("bm25", backend=backend).retriever(k=k, k1=k1, b=b, threads=threads)


@register_stage("dense")
def _dense(params: Params, context: StageContext) -> Stage:
    """Dense retrieval over a FAISS index (or rescoring an incoming run); model, precision, faiss, k, ..."""
    from regard.encoders.dense import ENCODER_PRECISIONS, RUNTIMES, effective_runtime, encoder_precision
    from regard.indexing.faiss_index import FAISS_TYPES, FP16_TYPES
    from regard.models import DEFAULT_DENSE_MODEL, choose_device

    device = choose_device(context.device)
    model = params.get("model", str, DEFAULT_DENSE_MODEL)
    precision = params.choice("precision", ENCODER_PRECISIONS, "auto")
    runtime = params.choice("runtime", RUNTIMES, "auto")
    precision = encoder_precision(precision, runtime, device)
    try:
        resolved_runtime = effective_runtime(runtime, precision, device)
    except ValueError as err:
        raise params.at("runtime").error(str(err)) from None
    build = dict(
        model=model, precision=precision,
        faiss_type=params.choice("faiss", FAISS_TYPES, "flat"), fp16=params.get("fp16", bool, False),
        max_length=params.get("max_length", int, None), query_prefix=params.get("query_prefix", str, ""),
        document_prefix=params.get("document_prefix", str, ""),
    )
    if resolved_runtime != "torch" or runtime != "auto":  # torch by default keeps the index keys of before
        build["runtime"] = resolved_runtime
    if build["fp16"] and build["faiss_type"] not in FP16_TYPES:
        raise params.at("fp16").error(f"fp16 applies to {' and '.join(FP16_TYPES)} FAISS indexes, "
                                      f"not {build['faiss_type']}")
    batch_size = params.positive("batch_size", 64)
    k = params.positive("k", 1000)
    params.finish()
    index = context.index("dense", device=device, batch_size=batch_size, **build)
    context.record_model("dense encoder", index.manifest.model, index.manifest.model_revision,
                         precision=build["precision"])
    return index.retriever(k=k, device=device, batch_size=batch_size)


@register_stage("cross-encoder")
def _cross_encoder(params: Params, context: StageContext) -> Stage:
    """Cross-encoder reranking of the incoming run; model (hub name or folder), batch_size, max_length, precision,
    runtime."""
    from regard.encoders.dense import RUNTIMES
    from regard.rerank.cross_encoder import DEFAULT_CROSS_ENCODER, CrossEncoder

    model = params.get("model", str, DEFAULT_CROSS_ENCODER)
    options = dict(batch_size=params.positive("batch_size", 32), max_length=params.get("max_length", int, None),
                   precision=params.choice("precision", ("auto", "fp32", "bf16", "fp16", "int8"), "auto"),
                   runtime=params.choice("runtime", RUNTIMES, "auto"))
    params.finish()
    distributed = context.reranker(CrossEncoder, model, "cross-encoder", **options)
    if distributed is not None:
        return distributed
    try:
        stage = CrossEncoder(context.document_index(), model, device=context.device, **options)
    except OSError as err:  # transformers cannot find the checkpoint (offline, or a wrong path)
        raise params.at("model").error(f"cannot load cross-encoder {model!r}: {str(err).splitlines()[0]}") from None
    context.record_model("cross-encoder", stage.scorer.name, stage.scorer.revision, precision=stage.scorer.precision)
    return stage


@register_stage("run-file", shorthand="path")
def _run_file(params: Params, context: StageContext) -> Stage:
    """Replays a TREC run file (a first stage computed elsewhere); parameter path."""
    from pathlib import Path

    from regard.retrieval.run_file import RunFile

    path = params.get("path", str)
    params.finish()
    if not Path(path).is_file():
        raise params.at("path").error(f"no such run file: {path}")
    return RunFile(path)


@register_stage("cutoff", shorthand="k")
def _cutoff(params: Params, context: StageContext) -> Stage:
    """Keeps the top k of the incoming run (``cutoff: 100``)."""
    k = params.positive("k")
    params.finish()
    return Cutoff(k)


def _children(params: Params, context: StageContext) -> list[Stage]:
    nodes = params.get("of", list)
    if len(nodes) < 2:
        raise params.at("of").error(f"a fusion needs at least two inputs, got {len(nodes)}")
    where = params.at("of")
    return [context.child(node, where.child(position)) for position, node in enumerate(nodes)]


@register_stage("rrf")
def _rrf(params: Params, context: StageContext) -> Stage:
    """Reciprocal-rank fusion of the pipelines listed in ``of``; parameters k (60) and depth (1000)."""
    from regard.retrieval.fusion import RRF_K, ReciprocalRankFusion

    k, depth = params.positive("k", RRF_K), params.positive("depth", 1000)
    stages = _children(params, context)
    params.finish()
    return ReciprocalRankFusion(*stages, k=k, depth=depth)


@register_stage("weighted-fusion")
def _weighted(params: Params, context: StageContext) -> Stage:
    """Weighted sum of min-max normalised scores of the pipelines in ``of``; parameters weights, depth."""
    from regard.retrieval.fusion import WeightedScoreFusion

    depth = params.positive("depth", 1000)
    stages = _children(params, context)
    weights = params.get("weights", list, None)
    params.finish()
    if weights is not None and (len(weights) != len(stages) or not all(isinstance(w, (int, float)) for w in weights)):
        raise params.at("weights").error(f"expected {len(stages)} numbers, one per input, got {weights!r}")
    return WeightedScoreFusion(stages, weights=weights, depth=depth)


@register_stage("index")
def _any_index(params: Params, context: StageContext) -> Stage:
    """Any index kind's own retriever: kind, build (builder parameters), search (retriever options), k.

    For kinds without a stage type of their own (``multivector``, ``muvera``, ``dense-chunked``, ...):
    ``index: {kind: muvera, build: {model: ..., k_sim: 5}, search: {candidates: 100}}``.
    """
    from regard.errors import ParameterError
    from regard.kinds import index_kind

    kind = params.get("kind", str)
    try:
        declaration = index_kind(kind)
    except RegardError as err:
        raise params.at("kind").error(str(err)) from None
    build, search = dict(params.get("build", dict, {})), dict(params.get("search", dict, {}))
    k = params.positive("k", 1000)
    params.finish()
    # Checked before anything is built, so a misspelt parameter stops the whole config at once.
    for section, check in (("build", declaration.check_build), ("search", declaration.check_search)):
        try:
            check({"build": build, "search": search}[section])
        except ParameterError as err:
            raise params.at(section).child(err.parameter).error(str(err)) from None
    return context.index(kind, **build).retriever(k=k, **search)


@register_stage("candidates")
def _candidates(params: Params, context: StageContext) -> Stage:
    """The first-stage run a reranking dataset ships (e.g. dl19's BM25 top 100); no parameters."""
    from regard.retrieval.run_file import RunFile

    params.finish()
    if context.checking:
        return Stage()
    return RunFile(context.dataset.candidates(), name=f"{context.dataset.name}-candidates")
