"""``regard eval``: evaluate pipelines (or run files) on a dataset's queries."""

from __future__ import annotations

import click

from regard.cli.dataset_options import dataset_options
from regard.cli.ray_options import ray_options, ray_options_from
from regard.cli.search_threads import bm25_options, threads_option
from regard.eval.metrics import DEFAULT_METRICS


def evaluate_pipelines(dataset: str | None, split: str | None, expressions: list[str], metrics: list[str],
                       out: str | None, k: int = 1000, queries_file: str | None = None, qrels_file: str | None = None,
                       relevant_grade: int | None = None, scale_out=None,
                       threads: int | None = None) -> None:
    """Shared by ``eval`` and ``demo``: parse, run, print the table, write runs and metrics."""
    from regard.cli.dataset_options import open_selected_dataset
    from regard.eval.experiment import format_table, run_experiment, safe_name, write_results
    from regard.pipeline_spec import PipelineParser

    if dataset is not None and (dataset == "loco" or any("{task}" in e or "{dataset}" in e for e in expressions)):
        from regard.experiments.tasks import evaluate_task_group
        from regard.loco import tasks_of

        group = evaluate_task_group(tasks_of(dataset), expressions, metrics, out or f"runs/{dataset}", k,
                                    retriever_options=bm25_options(threads),
                                    echo=lambda message: click.echo(message, err=True))
        click.echo(group.table())
        click.echo(f"\nruns and metrics per task, and tasks.json, written to {out or f'runs/{dataset}'}", err=True)
        return
    data = open_selected_dataset(dataset, queries_file, qrels_file, relevant_grade, split)
    split = split or data.spec.default_split
    queries, qrels = data.queries(split), data.qrels(split)
    parser = PipelineParser(k=k, scale_out=scale_out, **bm25_options(threads))
    pipelines = {expression: parser.parse(expression) for expression in expressions}
    click.echo(f"{data.name} ({split}): {len(queries)} queries, {len(pipelines)} pipeline(s)", err=True)
    try:
        results = run_experiment(pipelines, queries, qrels, metrics, relevance_threshold=data.relevance_threshold,
                                 ignore_identical_ids=data.spec.layout == "beir")
    finally:
        parser.close()
    click.echo(format_table(results, metrics))
    target = out or f"runs/{safe_name(data.name)}-{split}"
    path = write_results(results, target, data.name, split, metrics)
    click.echo(f"\nruns and {path.name} written to {path.parent}", err=True)


@click.command("eval")
@dataset_options
@click.option("--split", default=None, help="Split to evaluate (default: the dataset's test split).")
@click.option("--pipeline", "pipelines", multiple=True, required=True,
              help='An index folder, a TREC run file, or an expression: "idx/bm25 % 100 >> idx/dense", '
                   '"idx/bm25 | idx/dense". Repeat to compare; the first is the significance baseline.')
@click.option("--metrics", default=",".join(DEFAULT_METRICS), show_default=True, help="Comma-separated metrics.")
@click.option("-k", "k", type=int, default=1000, show_default=True, help="Depth of each retriever's run.")
@click.option("--out", default=None, help="Folder for TREC runs and metrics.json (default: runs/DATASET-SPLIT).")
@ray_options
@threads_option
def command(dataset, queries_file, qrels_file, relevant_grade, split, pipelines, metrics, k, out, ray, workers,
            cpus_per_worker, gpus_per_worker, threads):
    """Evaluate one or more pipelines on a dataset (or topics and qrels files) and print a metrics table.

    loco evaluates the 12 LoCoV1 tasks (name each task's index with {task}, e.g. indexes/loco/{task}/bm25).
    Writes a TREC run per pipeline and metrics.json (means, per-query scores, queries/s, p-values
    against the first pipeline). With --ray the rerankers (ce:, icr:, listwise:, pointwise:) run on Ray
    workers by batches of queries, each worker holding one copy of the model.
    """
    evaluate_pipelines(dataset, split, list(pipelines), [m.strip() for m in metrics.split(",") if m.strip()], out, k,
                       queries_file, qrels_file, relevant_grade,
                       ray_options_from(ray, workers, cpus_per_worker, gpus_per_worker), threads)
