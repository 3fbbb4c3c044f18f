"""Evaluation over a group of datasets (the twelve LoCoV1 tasks): one run per task, a table, the average.

Each task has its own corpus and so its own indexes; pipeline expressions name them through the
placeholders ``{task}`` (``qmsum``) and ``{dataset}`` (``loco/qmsum``), e.g.
``indexes/loco/{task}/bm25 % 100 >> indexes/loco/{task}/m2``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from regard.data.atomic_file import write_text_atomic
from regard.errors import RegardError


@dataclass
class TaskGroupResult:
    """Means per task and pipeline, and their averages over the tasks."""

    metrics: list[str]
    pipelines: list[str]  # the expressions as written, placeholders included
    means: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # task -> pipeline -> metric

    def average(self, pipeline: str, metric: str) -> float:
        values = [self.means[task][pipeline][metric] for task in self.means]
        return sum(values) / len(values) if values else float("nan")

    def table(self, metric: str | None = None) -> str:
        """Markdown: one row per task and an average row, one column per pipeline."""
        metric = metric or ("ndcg@10" if "ndcg@10" in self.metrics else self.metrics[0])
        header = ["task", *(p.replace("|", "\\|") for p in self.pipelines)]
        lines = [f"{metric} per task", "", "| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] + ["---:"] * len(self.pipelines)) + "|"]
        for task, per_pipeline in self.means.items():
            lines.append("| " + " | ".join([task, *(f"{per_pipeline[p][metric]:.4f}" for p in self.pipelines)]) + " |")
        averages = (f"**{self.average(p, metric):.4f}**" for p in self.pipelines)
        lines.append("| **average** | " + " | ".join(averages) + " |")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"metrics": self.metrics, "pipelines": self.pipelines, "tasks": self.means,
                "average": {p: {m: self.average(p, m) for m in self.metrics} for p in self.pipelines}}


def instantiate(expression: str, dataset: str) -> str:
    """``expression`` with ``{task}`` and ``{dataset}`` filled in for ``dataset``."""
    task = dataset.split("/", 1)[1] if "/" in dataset else dataset
    return expression.replace("{task}", task).replace("{dataset}", dataset)


def evaluate_task_group(datasets: list[str], expressions: list[str], metrics: list[str], out: str | Path,
                        k: int = 1000, retriever_options: dict | None = None, echo=print) -> TaskGroupResult:
    """Evaluate each expression on each dataset; write runs and metrics per task and a summary.

    ``retriever_options`` maps an index kind to options of its retriever (``PipelineParser``'s).
    """
    from regard.datasets import load_dataset
    from regard.eval.experiment import format_table, run_experiment, write_results
    from regard.pipeline_spec import PipelineParser, PipelineSpecError

    result = TaskGroupResult(metrics=list(metrics), pipelines=list(expressions))
    out = Path(out)
    for dataset in datasets:
        data = load_dataset(dataset)
        split = data.spec.default_split
        queries, qrels = data.queries(split), data.qrels(split)
        parser = PipelineParser(k=k, **(retriever_options or {}))
        pipelines = {}
        for expression in expressions:
            concrete = instantiate(expression, dataset)
            try:
                pipelines[expression] = parser.parse(concrete)
            except PipelineSpecError as error:
                example = instantiate("indexes/{dataset}/bm25", dataset)
                raise RegardError(f"{dataset}: {error}. Build each task's index first, e.g. regard index {dataset} "
                                  f"--kind bm25 --out {example}; name it in the pipeline with {{task}} or "
                                  "{dataset}") from None
        echo(f"{dataset} ({split}): {len(queries)} queries, {len(pipelines)} pipeline(s)")
        runs = run_experiment(pipelines, queries, qrels, metrics, relevance_threshold=data.relevance_threshold,
                              ignore_identical_ids=data.spec.layout == "beir")
        echo(format_table(runs, metrics))
        write_results(runs, out / dataset.replace("/", "-"), dataset, split, metrics)
        result.means[dataset] = {run.name: dict(run.evaluation.means) for run in runs}
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "tasks.json", json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n")
    return result
