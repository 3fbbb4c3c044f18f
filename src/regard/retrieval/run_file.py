"""A stage that replays a precomputed run (a TREC run file or a Run)."""

from __future__ import annotations

from pathlib import Path

from regard.data.trec import read_trec_run
from regard.data.types import Query, Run
from regard.pipeline import Stage


class RunFile(Stage):
    """Returns the stored ranking of each query asked for (queries absent from the run get none)."""

    def __init__(self, run: Run | str | Path, name: str | None = None):
        if isinstance(run, Run):
            self.run, self.name = run, name or "run"
        else:
            self.run, self.name = read_trec_run(run), name or Path(run).name

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        return Run({q.id: self.run[q.id] for q in queries if q.id in self.run})
