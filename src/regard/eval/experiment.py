"""Run several pipelines on the same queries, evaluate them, and tabulate with significance marks."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from regard.data.atomic_file import write_text_atomic
from regard.data.trec import write_trec_run
from regard.data.types import Qrels, Query, Run
from regard.eval.metrics import Evaluation, evaluate_full
from regard.eval.significance import paired_test
from regard.pipeline import Stage

SIGNIFICANCE_LEVEL = 0.05
log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    """One pipeline's run on a query set, its evaluation and its speed."""

    name: str
    run: Run
    evaluation: Evaluation
    seconds: float
    queries: int

    @property
    def queries_per_second(self) -> float:
        return self.queries / self.seconds if self.seconds > 0 else float("inf")


def run_experiment(pipelines: dict[str, Stage], queries: list[Query], qrels: Qrels, metrics,
                   relevance_threshold: int = 1, ignore_identical_ids: bool = False) -> list[PipelineResult]:
    """Run each pipeline on ``queries`` (timed) and evaluate it against ``qrels``."""
    results = []
    for name, stage in pipelines.items():
        started = time.perf_counter()
        run = stage(queries)
        seconds = time.perf_counter() - started
        evaluation = evaluate_full(run, qrels, metrics, relevance_threshold, ignore_identical_ids, warn_incomplete=False)
        if not evaluation.complete:
            log.warning("%s: %s", name, evaluation.coverage_note())
        results.append(PipelineResult(name, run, evaluation, seconds, len(queries)))
    return results


def format_table(results: list[PipelineResult], metrics) -> str:
    """A Markdown table; a dagger marks a significant difference from the first row (paired t-test, p<0.05)."""
    header = ["pipeline", *metrics, "queries/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    baseline = results[0] if results else None
    for position, result in enumerate(results):
        cells = [result.name.replace("|", "\\|")]
        for metric in metrics:
            value = result.evaluation.means[metric]
            mark = ""
            if position > 0:
                test = paired_test(baseline.evaluation.per_query[metric], result.evaluation.per_query[metric])
                mark = "†" if test.p_ttest < SIGNIFICANCE_LEVEL else ""
            cells.append(f"{value:.4f}{mark}")
        cells.append(f"{result.queries_per_second:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    if len(results) > 1:
        lines.append("")
        lines.append(f"† significantly different from {baseline.name} (paired t-test, p < {SIGNIFICANCE_LEVEL})")
    return "\n".join(lines)


def safe_name(name: str) -> str:
    """A file-name-safe version of a pipeline label."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "pipeline"


def write_results(results: list[PipelineResult], out: str | Path, dataset: str, split: str, metrics) -> Path:
    """Write one TREC run per pipeline and ``metrics.json`` (means, per-query scores, speed, p-values)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"dataset": dataset, "split": split, "metrics": list(metrics), "pipelines": []}
    for position, result in enumerate(results):
        run_path = out / f"{safe_name(result.name)}.trec"
        write_trec_run(result.run, run_path, tag=safe_name(result.name))
        entry = {
            "name": result.name,
            "run_file": run_path.name,
            "queries": result.queries,
            "seconds": round(result.seconds, 4),
            "queries_per_second": round(result.queries_per_second, 2),
            "means": result.evaluation.means,
            "judged_queries": result.evaluation.judged_queries,
            "covered_queries": result.evaluation.covered_queries,
            "per_query": result.evaluation.per_query,
        }
        if position > 0:
            entry["versus_first"] = {
                metric: {
                    "p_ttest": (t := paired_test(results[0].evaluation.per_query[metric], result.evaluation.per_query[metric])).p_ttest,
                    "p_permutation": t.p_permutation,
                    "delta": t.delta,
                }
                for metric in metrics
            }
        report["pipelines"].append(entry)
    path = out / "metrics.json"
    write_text_atomic(path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return path
