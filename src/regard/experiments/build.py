"""Turn a config's pipeline nodes into stages, each wrapped so its output is cached by config prefix.

Every stage is constructed before anything runs (indexes built or opened, models loaded), so a bad
parameter anywhere in a config fails at once, and set-up time stays out of the measured seconds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from regard.data.types import Query, Run
from regard.experiments.config import plain, stable_hash
from regard.experiments.identity import model_revisions
from regard.experiments.stage_cache import CachedStage, Ledger, ResumingSequence, StageStore
from regard.pipeline import Sequence, Stage
from regard.experiments.stages import CheckOnly, Params, StageContext, Where, registration


def queries_key(dataset: str, split: str, queries: list[Query], corpus: str = "") -> str:
    """The root of every cache key: the dataset, its corpus content fingerprint, the split and the query texts."""
    return stable_hash({"dataset": dataset, "corpus": corpus, "split": split,
                        "queries": [[q.id, q.text] for q in queries]})


def _file_fingerprints(values: dict[str, Any]) -> dict[str, Any]:
    """Size and modification time of the local files a stage names (a checkpoint folder, a run file).

    A retrained checkpoint at the same path then gets new cache keys instead of stale outputs.
    """
    found: dict[str, Any] = {}
    for name, value in sorted(values.items()):
        if not isinstance(value, str) or not value or not Path(value).exists():
            continue
        path = Path(value)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found[name] = [[str(f.relative_to(path)) if path.is_dir() else f.name, f.stat().st_size, f.stat().st_mtime_ns]
                       for f in files]
    return found


class PipelineBuilder:
    """Builds config nodes into stages for one dataset and query set."""

    def __init__(self, context: StageContext, store: StageStore | None, ledger: Ledger, root_key: str):
        self.context, self.store, self.ledger, self.root_key = context, store, ledger, root_key

    def build_root(self, node: Any, where: Where) -> Stage:
        """Check the whole pipeline (every type and parameter), then build it."""
        checker = PipelineBuilder(dataclasses.replace(self.context, checking=True), None, Ledger(), self.root_key)
        checker.build(node, where)
        return self.build(node, where)[0]

    def build(self, node: Any, where: Where, input_key: str | None = None) -> tuple[Stage, str]:
        """The stage for ``node`` reading runs with key ``input_key``, and the key of its output."""
        input_key = input_key or self.root_key
        if isinstance(node, list):
            if not node:
                raise where.error("an empty list of stages")
            lines = getattr(node, "lines", [None] * len(node))
            stages, key = [], input_key
            for position, child in enumerate(node):
                stage, key = self.build(child, where.child(position, lines[position]), key)
                stages.append(stage)
            if len(stages) == 1:
                return stages[0], key
            return ResumingSequence(stages, Sequence(*stages).name), key
        if not isinstance(node, dict) or len(node) != 1:
            raise where.error("a stage is written as a one-key mapping {TYPE: PARAMETERS} or a list of stages, "
                              f"got {plain(node)!r}")
        kind, raw = next(iter(node.items()))
        line = getattr(node, "lines", {}).get(kind, where.line)
        here = where.child(kind, line)
        entry = registration(kind, here)
        params = self._params(raw, entry.shorthand, here)
        identity = {"input": input_key, "type": kind, "params": params.values,
                    "files": _file_fingerprints(params.values), "models": model_revisions(params.values)}
        child_keys: list[str] = []

        def build_child(child: Any, child_where: Where) -> Stage:
            stage, child_key = self.build(child, child_where, input_key)
            child_keys.append(child_key)
            return stage

        context = dataclasses.replace(self.context, build_child=build_child, models_used=[])
        try:
            stage = entry.factory(params, context)
        except CheckOnly:
            stage = Stage()
        if context.models_used:  # what the factory loaded, named in the config or its default
            identity["loaded_models"] = sorted(set(context.models_used))
        if child_keys:  # a fusion's output changes with whatever changes its inputs' (their models' revisions)
            identity["inputs"] = child_keys
        key = stable_hash(identity)
        if not isinstance(stage, Stage):
            raise TypeError(f"the factory of stage type {kind!r} returned {type(stage).__name__}, not a Stage")
        if self.context.checking:
            return stage, key
        describe = {"type": kind, "params": plain(params.values), "config": f"{where.path}:{line}"}
        store = self.store if entry.cache else None
        return CachedStage(stage, key, self.context.dataset.name, store, self.ledger, describe), key

    @staticmethod
    def _params(raw: Any, shorthand: str | None, where: Where) -> Params:
        if raw is None:
            return Params({}, where)
        if isinstance(raw, dict):
            return Params(raw, where, getattr(raw, "lines", {}))
        if shorthand is None:
            raise where.error(f"expected a mapping of parameters, got {plain(raw)!r}")
        return Params({shorthand: raw}, where, {shorthand: where.line} if where.line else {})
