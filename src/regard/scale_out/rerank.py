"""Reranking a query set on Ray: a stage rebuilt once on each worker, fed batches of queries.

:class:`DistributedStage` wraps the recipe of a reranking stage (its class and constructor
arguments, never the loaded model). Each batch travels with the incoming run restricted to its
queries; the workers' runs are merged on the driver. A reranker scores each query's candidates on
their own, so the merged run is the single-process run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.data.types import Query, Run
from regard.pipeline import Stage
from regard.progress import progress_bar
from regard.scale_out.actor_pool import ActorPool, Recipe
from regard.scale_out.options import RayOptions

DEFAULT_QUERIES_PER_BATCH = 8


class DistributedStage(Stage):
    """The stage that ``recipe`` builds, run on ``options.workers`` Ray actors by batches of queries.

    The pool starts on the first call and is kept for the next ones (one model load per worker per
    pipeline); :meth:`close` stops it.
    """

    def __init__(self, recipe: Recipe, name: str, options: RayOptions,
                 queries_per_batch: int = DEFAULT_QUERIES_PER_BATCH):
        if queries_per_batch < 1:
            raise ValueError(f"queries_per_batch must be at least 1, got {queries_per_batch}")
        self.recipe, self.name, self.options = recipe, name, options
        self.queries_per_batch = queries_per_batch
        self.pool: ActorPool | None = None

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        if self.pool is None:
            self.pool = ActorPool(self.recipe, self.options)
        batches = [queries[i:i + self.queries_per_batch] for i in range(0, len(queries), self.queries_per_batch)]
        work = ((number, (batch, _restricted(run, batch))) for number, batch in enumerate(batches))
        merged: dict[str, list[tuple[str, float]]] = {}
        with progress_bar(total=len(queries), desc=f"Reranking with {self.name} on Ray", unit="query") as bar:
            for number, result in self.pool.map_unordered("transform", work):
                merged.update(result.items())
                bar.update(len(batches[number]))
        # Queries in the caller's order, as the single-process stage returns them.
        return Run({q.id: merged[q.id] for q in queries if q.id in merged})

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def _restricted(run: Run | None, queries: list[Query]) -> Run | None:
    """The part of ``run`` that ranks ``queries`` (what a worker needs to rerank them)."""
    if run is None:
        return None
    return Run({q.id: run[q.id] for q in queries if q.id in run})


def distributed_reranker(stage_class: type, docs_folder: str | Path, model: str, parameters: dict[str, Any],
                         options: RayOptions) -> DistributedStage:
    """``stage_class(docs_folder, model, **parameters)`` as a :class:`DistributedStage` on Ray workers.

    Paths become absolute (a worker's working directory is not the driver's); the model is loaded only
    on the workers, when the stage first runs.
    """
    docs = str(Path(docs_folder).resolve())
    model = str(Path(model).resolve()) if Path(model).exists() else model
    name = f"{stage_class.__name__}({Path(model).name})"
    return DistributedStage(Recipe(stage_class, (docs, model), dict(parameters)), name, options)
