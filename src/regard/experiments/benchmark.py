"""Every config on every dataset: per-dataset runs, metrics and provenance, a summary, and the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regard.progress import progress_bar

from regard.data.atomic_file import write_text_atomic
from regard.datasets import load_dataset
from regard.errors import RegardError
from regard.eval.experiment import safe_name, write_results
from regard.eval.metrics import evaluate
from regard.eval.significance import paired_test
from regard.experiments.config import PipelineConfig
from regard.experiments.runner import ConfigRun, Workspace, run_config, write_provenance

RECALL_DEPTHS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
SUMMARY_NAME = "summary.json"


@dataclass
class BenchmarkResult:
    """What a benchmark wrote: the output folder, the summary, and each run (for reuse statistics)."""

    out: Path
    summary: dict[str, Any]
    runs: list[ConfigRun]

    @property
    def reused(self) -> int:
        return sum(r.provenance["cache"]["stage_outputs_reused"] for r in self.runs)

    @property
    def computed(self) -> int:
        return sum(r.provenance["cache"]["stage_outputs_computed"] for r in self.runs)


def order_configs(configs: list[PipelineConfig], baseline: str | None) -> list[PipelineConfig]:
    """The configs with the baseline first (by name; the first config when ``baseline`` is None)."""
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RegardError(f"two configs share the name {duplicates[0]!r}; give each a distinct 'name'")
    if baseline is None:
        return list(configs)
    if baseline not in names:
        raise RegardError(f"baseline {baseline!r} is none of the configs: {', '.join(names)}")
    return sorted(configs, key=lambda c: c.name != baseline)


def run_benchmark(configs: list[PipelineConfig], datasets: list, out: str | Path, workspace: Workspace,
                  metrics, baseline: str | None = None, split: str | None = None,
                  report: bool = True) -> BenchmarkResult:
    """Run each config on each dataset; write ``OUT/DATASET/`` runs, metrics and provenance, the summary and report.

    ``datasets`` holds names, BEIR folders, ``irds:<id>`` ids, or opened datasets.
    """
    out = Path(out)
    metrics = list(metrics)
    if "ndcg@10" not in metrics:
        metrics.insert(0, "ndcg@10")
    ordered = order_configs(configs, baseline)
    opened = [load_dataset(d) if isinstance(d, (str, Path)) else d for d in datasets]  # unknown names fail first
    summary: dict[str, Any] = {
        "baseline": ordered[0].name, "metrics": metrics, "recall_depths": list(RECALL_DEPTHS),
        "configs": {c.name: {"hash": c.hash, "path": c.path, "description": c.description} for c in ordered},
        "datasets": {},
    }
    every_run: list[ConfigRun] = []
    bar = progress_bar(total=len(ordered) * len(datasets), desc="Benchmark", unit="run")
    for data in opened:
        name = safe_name(data.name)
        runs = []
        for config in ordered:
            bar.set_postfix_str(f"{name}: {config.name}")
            runs.append(run_config(config, data, workspace, metrics, split))
            bar.update(1)
        write_results([r.result for r in runs], out / name, name, runs[0].split, metrics)
        write_provenance(runs, out / name)
        summary["datasets"][name] = _dataset_summary(runs, data, metrics)
        every_run.extend(runs)
    bar.close()
    write_text_atomic(out / SUMMARY_NAME, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if report:
        from regard.report import write_report

        write_report(summary, out)
    return BenchmarkResult(out, summary, every_run)


def _dataset_summary(runs: list[ConfigRun], data, metrics: list[str]) -> dict[str, Any]:
    qrels = data.qrels(runs[0].split)
    base = runs[0].result.evaluation.per_query
    pipelines = {}
    for position, config_run in enumerate(runs):
        result = config_run.result
        curve = evaluate(result.run, qrels, [f"recall@{k}" for k in RECALL_DEPTHS], data.relevance_threshold,
                         ignore_identical_ids=data.spec.layout == "beir")
        entry: dict[str, Any] = {
            "means": result.evaluation.means, "seconds_per_query": result.seconds / max(result.queries, 1),
            "recall_curve": [curve[f"recall@{k}"] for k in RECALL_DEPTHS], "config_hash": config_run.config.hash,
        }
        if position > 0:
            entry["versus_baseline"] = {}
            for metric in metrics:
                test = paired_test(base[metric], result.evaluation.per_query[metric], metric)
                entry["versus_baseline"][metric] = {"p_ttest": test.p_ttest, "p_permutation": test.p_permutation,
                                                    "delta": test.delta}
        pipelines[config_run.config.name] = entry
    return {"split": runs[0].split, "queries": runs[0].result.queries, "pipelines": pipelines}
