"""Run a pipeline on a batch of queries and keep what every stage produced, and how long it took.

The pipeline's composite stages (sequences, fusions) are copied with each child wrapped in a recorder,
so the composites compute exactly what they compute in ``pipeline(queries)``: the final run is the
same run. Cutoffs are not recorded (they score nothing); cached-stage wrappers of pipeline configs
are looked through.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

from regard.data.types import Query, Run
from regard.experiments.stage_cache import CachedStage, ResumingSequence
from regard.pipeline import Cutoff, Sequence, Stage


@dataclass
class StageStep:
    """One recorded stage: its label, its output run, and the seconds it took itself (not its inputs)."""

    label: str
    run: Run
    seconds: float


class _Recorder:
    """Collects steps in the order stages finish, and each stage's own time (nested stages subtracted)."""

    def __init__(self) -> None:
        self.steps: list[StageStep] = []
        self._nested: list[float] = []

    def run(self, label: str, stage: Stage, queries: list[Query], run: Run | None) -> Run:
        self._nested.append(0.0)
        started = time.perf_counter()
        try:
            output = stage.transform(queries, run)
        finally:
            total = time.perf_counter() - started
            nested = self._nested.pop()
            if self._nested:
                self._nested[-1] += total
        self.steps.append(StageStep(label, output, max(total - nested, 0.0)))
        return output


class _Recorded(Stage):
    def __init__(self, inner: Stage, label: str, recorder: _Recorder):
        self.inner, self.label, self.recorder = inner, label, recorder
        self.name = inner.name

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        return self.recorder.run(self.label, self.inner, queries, run)


def stage_labels(pipeline: Stage) -> list[str]:
    """The labels of the recorded stages of ``pipeline``, in the order they run."""
    labels: list[str] = []
    _instrument(pipeline, _Recorder(), labels)
    return labels


def traced_run(pipeline: Stage, queries: list[Query]) -> tuple[Run, list[StageStep]]:
    """``pipeline(queries)`` and the steps it went through; safe to call from several threads at once."""
    recorder = _Recorder()
    instrumented = _instrument(pipeline, recorder, [])
    final = instrumented.transform(queries, None)
    return final, recorder.steps


def _unwrap(stage: Stage) -> Stage:
    while isinstance(stage, CachedStage):
        stage = stage.inner
    return stage


def _unique(label: str, taken: list[str]) -> str:
    candidate, number = label, 2
    while candidate in taken:
        candidate, number = f"{label} #{number}", number + 1
    taken.append(candidate)
    return candidate


def _instrument(stage: Stage, recorder: _Recorder, labels: list[str]) -> Stage:
    stage = _unwrap(stage)
    if isinstance(stage, Cutoff):
        return stage
    children = getattr(stage, "stages", None)
    if isinstance(children, list) and children:
        clone = copy.copy(stage)
        clone.stages = [_instrument(child, recorder, labels) for child in children]
        if isinstance(stage, (Sequence, ResumingSequence)):
            return clone  # a sequence scores nothing itself: its parts are the stages
        stage = clone
    return _Recorded(stage, _unique(stage.name, labels), recorder)
