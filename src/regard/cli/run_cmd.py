"""``regard run``: run one pipeline config on a dataset, building or reusing its indexes and stage outputs."""

from __future__ import annotations

import click

from regard.cli.dataset_options import dataset_options
from regard.cli.ray_options import ray_options, ray_options_from
from regard.eval.metrics import DEFAULT_METRICS


def workspace_options(function):
    """Options shared by ``run`` and ``benchmark``: cache folder, device, cache switch, metrics."""
    options = [
        click.option("--metrics", default=",".join(DEFAULT_METRICS), show_default=True,
                     help="Comma-separated metrics."),
        click.option("--cache-dir", default=None, type=click.Path(file_okay=False),
                     help="Folder for cached indexes and stage outputs (default: $REGARD_CACHE/experiments)."),
        click.option("--device", default=None, help="Model device (default: cuda if available, else cpu)."),
        click.option("--no-cache", is_flag=True, help="Recompute every stage (indexes are still reused)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def make_workspace(cache_dir, device, no_cache, scale_out=None):
    """The workspace the options ask for; ``scale_out`` (RayOptions) runs the rerankers on Ray."""
    from regard.experiments.runner import Workspace

    return Workspace.default(cache_dir, device=device, use_cache=not no_cache, scale_out=scale_out)


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@click.command("run")
@click.argument("config", type=click.Path(dir_okay=False))
@dataset_options
@click.option("--split", default=None, help="Split to run (default: the dataset's test split).")
@click.option("--out", default=None, help="Output folder (default: runs/NAME-DATASET-SPLIT).")
@workspace_options
@ray_options
def command(config, dataset, queries_file, qrels_file, relevant_grade, split, out, metrics, cache_dir, device,
            no_cache, ray, workers, cpus_per_worker, gpus_per_worker):
    """Run the pipeline of CONFIG (a YAML file) on a dataset (or topics and qrels files) and print its metrics.

    Writes the TREC run, metrics.json (means, per-query scores, compute seconds) and provenance.json
    (config and its hash, package versions, models and revisions, seed, hardware). With --ray the
    reranking stages (cross-encoder, icr, listwise, pointwise) run on Ray workers by batches of
    queries, each worker holding one copy of the model; the run is the single-process run.
    """
    from regard.cli.dataset_options import open_selected_dataset
    from regard.eval.experiment import format_table, safe_name, write_results
    from regard.experiments.config import load_config
    from regard.experiments.runner import run_config, write_provenance

    metric_names = split_list(metrics)
    parsed = load_config(config)
    data = open_selected_dataset(dataset, queries_file, qrels_file, relevant_grade, split)
    scale_out = ray_options_from(ray, workers, cpus_per_worker, gpus_per_worker)
    result = run_config(parsed, data, make_workspace(cache_dir, device, no_cache, scale_out), metric_names, split)
    click.echo(format_table([result.result], metric_names))
    target = out or f"runs/{parsed.name}-{safe_name(result.dataset)}-{result.split}"
    write_results([result.result], target, result.dataset, result.split, metric_names)
    write_provenance([result], target)
    cache = result.provenance["cache"]
    click.echo(f"\n{cache['stage_outputs_reused']} stage output(s) reused, {cache['stage_outputs_computed']} computed; "
               f"run, metrics.json and provenance.json written to {target}", err=True)
