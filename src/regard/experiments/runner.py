"""Run a config on a dataset, with cached indexes and stage outputs, and write the results beside provenance."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regard.data.atomic_file import write_text_atomic
from regard.datasets import Dataset, cache_root, load_dataset
from regard.eval.experiment import PipelineResult
from regard.eval.metrics import evaluate_full
from regard.experiments.build import PipelineBuilder, queries_key
from regard.experiments.config import PipelineConfig
from regard.experiments.index_cache import IndexCache
from regard.experiments.provenance import provenance, seed_everything
from regard.experiments.stage_cache import Ledger, StageStore
from regard.scale_out.options import RayOptions
from regard.experiments.stages import StageContext


@dataclass
class Workspace:
    """Where cached indexes and stage outputs live, and the options shared by every run."""

    root: Path
    device: str | None = None
    use_cache: bool = True
    scale_out: RayOptions | None = None
    indexes: IndexCache = field(init=False)
    store: StageStore = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.indexes = IndexCache(self.root / "indexes")
        self.store = StageStore(self.root / "stage-runs")

    @classmethod
    def default(cls, root: str | Path | None = None, **options: Any) -> "Workspace":
        """``root``, else ``$REGARD_CACHE/experiments`` (default ``~/.cache/regard/experiments``)."""
        return cls(Path(root) if root else cache_root() / "experiments", **options)


@dataclass
class ConfigRun:
    """One config run on one dataset split: the result (seconds = compute cost) and its provenance."""

    config: PipelineConfig
    dataset: str
    split: str
    result: PipelineResult
    provenance: dict[str, Any]


def run_config(config: PipelineConfig, dataset: Dataset | str, workspace: Workspace, metrics,
               split: str | None = None) -> ConfigRun:
    """Build (or reuse) what ``config`` needs, run it on the dataset's queries and evaluate it."""
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    split = split or data.spec.default_split
    queries, qrels = data.queries(split), data.qrels(split)
    seed_everything(config.seed)
    context = StageContext(dataset=data, indexes=workspace.indexes, device=workspace.device,
                           scale_out=workspace.scale_out)
    ledger = Ledger()
    builder = PipelineBuilder(context, workspace.store if workspace.use_cache else None, ledger,
                              queries_key(data.cache_name, split, queries, workspace.indexes.corpus_fingerprint(data)))
    try:
        stage = builder.build_root(config.pipeline, config.where)
        started = time.perf_counter()
        run = stage(queries)
        wall = time.perf_counter() - started
    finally:
        context.close()
    evaluation = evaluate_full(run, qrels, metrics, data.relevance_threshold, ignore_identical_ids=data.spec.layout == "beir")
    result = PipelineResult(config.name, run, evaluation, ledger.cost_of(run), len(queries))
    cache = {"stage_outputs_reused": ledger.hits, "stage_outputs_computed": ledger.misses,
             "wall_seconds_this_run": round(wall, 3), "workspace": str(workspace.root)}
    record = provenance(config, data.name, split, context.records, workspace.device, cache)
    return ConfigRun(config, data.name, split, result, record)


def write_provenance(runs: list[ConfigRun], out: str | Path) -> Path:
    """Write ``provenance.json`` (one record per config) into ``out``."""
    path = Path(out) / "provenance.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps([r.provenance for r in runs], indent=2, sort_keys=True, default=str) + os.linesep)
    return path
