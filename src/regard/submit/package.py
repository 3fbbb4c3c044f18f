"""Build a submission package from regard runs (or any TREC run files), validated and scored locally.

The package, in regard's layout::

    PACKAGE/
      metadata.json          model, description, links, parameters, hardware, latency, metrics per dataset
      runs/scifact.trec      top 1000 per query, one file per BEIR dataset id

``layouts.py`` turns it into the layout the leaderboard takes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from regard.data.trec import read_trec_run, write_trec_run
from regard.errors import RegardError
from regard.eval.metrics import evaluate

OFFICIAL_METRICS = ("ndcg@10", "recall@100")
METADATA_NAME = "metadata.json"
REQUIRED_METADATA = ("model", "description", "datasets")
DEPTH = 1000
FORMAT = "regard-beir-submission/1"


@dataclass(frozen=True)
class DatasetView:
    """What validation needs of a BEIR dataset: its test queries and the ids in its corpus."""

    name: str
    split: str
    query_ids: frozenset[str]
    corpus_ids: frozenset[str]


@lru_cache(maxsize=8)
def dataset_view(name: str) -> DatasetView:
    """The test queries and corpus ids of BEIR dataset ``name``; other datasets are refused."""
    from regard.datasets import _BEIR, load_dataset

    if name not in _BEIR:
        raise RegardError(f"{name!r} is not a BEIR dataset; the leaderboard takes: {', '.join(sorted(_BEIR))}")
    data = load_dataset(name)
    split = data.spec.default_split
    return DatasetView(name, split, frozenset(q.id for q in data.queries(split)),
                       frozenset(d.id for d in data.corpus))


def score_run(path: str | Path, view: DatasetView) -> dict[str, float]:
    """The official metrics of a run file (BEIR convention: a document equal to the query is ignored)."""
    from regard.datasets import load_dataset

    data = load_dataset(view.name)
    return evaluate(read_trec_run(path), data.qrels(view.split), OFFICIAL_METRICS, data.relevance_threshold,
                    ignore_identical_ids=True)


@dataclass
class SubmissionSource:
    """One dataset's run for the package, with what its ``regard run`` folder recorded (if any)."""

    dataset: str
    run_file: Path
    provenance: dict[str, Any] = field(default_factory=dict)
    seconds_per_query: float | None = None


def source_from_argument(text: str) -> SubmissionSource:
    """``DATASET=RUN.trec``, or a ``regard run`` output folder (its metrics.json and provenance.json)."""
    if "=" in text and not Path(text).exists():
        dataset, run_file = text.split("=", 1)
        if not Path(run_file).is_file():
            raise RegardError(f"{run_file}: no such run file")
        return SubmissionSource(dataset.strip(), Path(run_file))
    folder = Path(text)
    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        raise RegardError(f"{text}: neither DATASET=RUN_FILE nor a 'regard run' output folder (no metrics.json)")
    metrics = json.loads(metrics_path.read_text())
    if len(metrics.get("pipelines", [])) != 1:
        raise RegardError(f"{metrics_path}: holds {len(metrics.get('pipelines', []))} pipelines; "
                          "name the run file instead: DATASET=FOLDER/RUN.trec")
    entry = metrics["pipelines"][0]
    provenance_path = folder / "provenance.json"
    provenance = json.loads(provenance_path.read_text())[0] if provenance_path.is_file() else {}
    return SubmissionSource(metrics["dataset"], folder / entry["run_file"], provenance,
                            entry["seconds"] / max(entry["queries"], 1))


def _metadata(sources: list[SubmissionSource], model: str, description: str, links: list[str]) -> dict[str, Any]:
    from regard import __version__

    first = next((s.provenance for s in sources if s.provenance), {})
    return {
        "format": FORMAT, "model": model, "description": description, "links": list(links),
        "parameters": {s.dataset: {"config": s.provenance.get("config", {}).get("text"),
                                   "config_hash": s.provenance.get("config", {}).get("hash"),
                                   "models": s.provenance.get("models", []), "seed": s.provenance.get("seed")}
                       for s in sources if s.provenance},
        "hardware": first.get("hardware"), "packages": first.get("packages"), "regard_version": __version__,
        "latency_seconds_per_query": {s.dataset: s.seconds_per_query for s in sources
                                      if s.seconds_per_query is not None},
        "datasets": {},
    }


def build_package(sources: list[SubmissionSource], out: str | Path, model: str, description: str,
                  links: list[str] = (), layout: str = "regard", overwrite: bool = False) -> Path:
    """Validate each run, cut it to the top 1000, score it, write metadata; validate the package; lay it out."""
    from regard.submit.layouts import LAYOUTS
    from regard.submit.validate import ValidationError, validate_package, validate_run_file

    if not sources:
        raise RegardError("nothing to package: give at least one run")
    if layout not in LAYOUTS:
        raise RegardError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    datasets = [s.dataset for s in sources]
    if len(set(datasets)) != len(datasets):
        raise RegardError(f"two runs for the same dataset: {', '.join(sorted(datasets))}")
    problems = []
    for source in sources:
        problems += validate_run_file(source.run_file, dataset_view(source.dataset).query_ids,
                                      dataset_view(source.dataset).corpus_ids, depth=None)
    if problems:
        raise ValidationError(problems)
    metadata = _metadata(sources, model, description, links)
    staging = Path(tempfile.mkdtemp(prefix=".submission."))
    try:
        (staging / "runs").mkdir()
        for source in sources:
            target = staging / "runs" / f"{source.dataset}.trec"
            write_trec_run(read_trec_run(source.run_file).cut(DEPTH), target, tag=model)
            metadata["datasets"][source.dataset] = {
                "run_file": f"runs/{source.dataset}.trec", "split": dataset_view(source.dataset).split,
                "queries": len(dataset_view(source.dataset).query_ids), "depth": DEPTH,
                "metrics": score_run(target, dataset_view(source.dataset)),
            }
        (staging / METADATA_NAME).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        validate_package(staging)
        return LAYOUTS[layout].write(staging, Path(out), overwrite=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
