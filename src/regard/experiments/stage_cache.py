"""Stage outputs stored on disk, keyed by the config prefix that produced them and the dataset.

A stage's output key is ``sha256(input key, stage type and parameters)``; the root input key covers the
dataset, the split and the query texts. So the output of ``bm25`` is shared by every config that starts
with the same ``bm25`` node, and a rerun of a config reads each stage's run instead of computing it.

Each entry stores how long the stage took to compute (its own time, and the total including the stages
before it), so a cached run reports the cost of computing it, not of reading it back.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regard.data.atomic_file import atomic_open
from regard.data.types import Query, Run
from regard.pipeline import Stage

CACHE_FORMAT = 1


@dataclass
class CachedOutput:
    run: Run
    own_seconds: float
    total_seconds: float


class StageStore:
    """Runs on disk under ``root/DATASET/KEY.json``, written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, dataset: str, key: str) -> Path:
        return self.root / dataset / f"{key}.json"

    def load(self, dataset: str, key: str) -> CachedOutput | None:
        """The stored output, or None when absent or unreadable (a broken entry is recomputed)."""
        path = self.path(dataset, key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT or data.get("key") != key:
                return None
            run = Run({qid: [(d, s) for d, s in hits] for qid, hits in data["run"].items()})
            return CachedOutput(run, float(data["own_seconds"]), float(data["total_seconds"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, dataset: str, key: str, output: CachedOutput, describe: dict[str, Any]) -> None:
        """Store ``output`` with a description of the stage that made it."""
        path = self.path(dataset, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": CACHE_FORMAT, "key": key, "stage": describe,
            "own_seconds": output.own_seconds, "total_seconds": output.total_seconds,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "run": {qid: [[d, s] for d, s in hits] for qid, hits in output.run.items()},
        }
        with atomic_open(path) as out:
            json.dump(data, out)


@dataclass
class _Frame:
    nested_wall: float = 0.0  # seconds spent now inside nested stages
    nested_added: float = 0.0  # compute cost the nested stages add on top of their input


@dataclass
class Ledger:
    """Accounts for compute cost across stages: each run produced is tagged with its cost from scratch.

    A stage's cost is the cost of its input run, plus the cost its nested stages add (a fusion's
    inputs), plus its own time. Cached stages report the cost stored with their output, so a pipeline
    read back from the cache reports the same seconds as when it was computed.
    """

    stack: list[_Frame] = field(default_factory=list)
    costs: dict[int, tuple[Run, float]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def cost_of(self, run: Run | None) -> float:
        """Seconds it took to compute ``run`` from the queries (0 for no run or an unknown one)."""
        entry = self.costs.get(id(run)) if run is not None else None
        return entry[1] if entry is not None and entry[0] is run else 0.0

    @contextmanager
    def frame(self):
        """Measure a stage: yields a frame that the stages nested inside it report to."""
        self.stack.append(_Frame())
        try:
            yield self.stack[-1]
        finally:
            self.stack.pop()

    def produced(self, run: Run, cost: float, input_cost: float, wall: float) -> None:
        """Record that ``run`` costs ``cost`` seconds, and tell the enclosing stage about it."""
        self.costs[id(run)] = (run, cost)  # the run is kept so its id is not reused
        if self.stack:
            self.stack[-1].nested_wall += wall
            self.stack[-1].nested_added += cost - input_cost


class CachedStage(Stage):
    """Wraps a stage: reads its output from the store when present, else computes it and stores it.

    With ``store=None`` the stage is always computed (and its time measured each run).
    """

    def __init__(self, inner: Stage, key: str, dataset: str, store: StageStore | None, ledger: Ledger,
                 describe: dict[str, Any]):
        self.inner, self.key, self.dataset = inner, key, dataset
        self.store, self.ledger, self.describe = store, ledger, describe
        self.name = inner.name
        self._loaded: CachedOutput | None = None

    def available(self) -> bool:
        """Whether a readable output is in the store (then the stages before this one need not run)."""
        if self._loaded is None and self.store is not None:
            self._loaded = self.store.load(self.dataset, self.key)
        return self._loaded is not None

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        started = time.perf_counter()
        input_cost = self.ledger.cost_of(run)
        output = self._loaded if self.available() else None
        self._loaded = None
        if output is not None:
            self.ledger.hits += 1
        else:
            self.ledger.misses += 1
            with self.ledger.frame() as frame:
                result = self.inner.transform(queries, run)
            own = max(time.perf_counter() - started - frame.nested_wall, 0.0)
            output = CachedOutput(result, own, input_cost + frame.nested_added + own)
            if self.store:
                self.store.save(self.dataset, self.key, output, self.describe)
        self.ledger.produced(output.run, output.total_seconds, input_cost, time.perf_counter() - started)
        return output.run


class ResumingSequence(Stage):
    """Stages in order, starting from the last one whose output is stored (earlier ones are not run)."""

    def __init__(self, stages: list[Stage], name: str):
        self.stages, self.name = stages, name

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        start = next((i for i in range(len(self.stages) - 1, -1, -1)
                      if isinstance(self.stages[i], CachedStage) and self.stages[i].available()), 0)
        for stage in self.stages[start:]:
            run = stage.transform(queries, run)
        return run
