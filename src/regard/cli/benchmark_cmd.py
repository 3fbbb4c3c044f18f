"""``regard benchmark``: every config on every dataset, with cached stages, and a report."""

from __future__ import annotations

import time

import click

from regard.cli.ray_options import ray_options, ray_options_from
from regard.cli.run_cmd import make_workspace, split_list, workspace_options


@click.command("benchmark")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--datasets", default=None,
              help="Comma-separated datasets: names (scifact,vaswani), BEIR folders or irds:<id> ids.")
@click.option("--queries", "queries_file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Topics file (TREC, TSV or JSONL), with --qrels: one more dataset, on the corpus of --datasets "
                   "when it names exactly one.")
@click.option("--qrels", "qrels_file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Qrels file (TREC or BEIR TSV), with --queries.")
@click.option("--relevant-grade", type=int, default=None,
              help="Lowest grade counted as relevant by recall and MAP (default: each dataset's own).")
@click.option("--out", default="runs/benchmark", show_default=True, help="Output folder.")
@click.option("--baseline", default=None, help="Config name to test the others against (default: the first).")
@click.option("--split", default=None, help="Split (default: each dataset's test split).")
@workspace_options
@ray_options
def command(configs, datasets, queries_file, qrels_file, relevant_grade, out, baseline, split, metrics, cache_dir,
            device, no_cache, ray, workers, cpus_per_worker, gpus_per_worker):
    """Run each CONFIG on each dataset and write runs, metrics and a report.

    OUT/DATASET/ holds a TREC run per config, metrics.json (means, per-query scores, p-values against
    the baseline) and provenance.json; OUT/ holds summary.json, report.md, report.html and the PNG
    plots. Stage outputs are cached, so a rerun recomputes nothing. With --ray the reranking stages run
    on Ray workers by batches of queries (as in ``regard run --ray``).
    """
    from regard.datasets import load_dataset, open_dataset
    from regard.errors import RegardError
    from regard.experiments.benchmark import run_benchmark
    from regard.experiments.config import load_config
    from regard.report.tables import overview_rows

    started = time.perf_counter()
    scale_out = ray_options_from(ray, workers, cpus_per_worker, gpus_per_worker)
    parsed = [load_config(path) for path in configs]
    names = split_list(datasets or "")
    if queries_file or qrels_file:
        if len(names) > 1:
            raise RegardError("--queries/--qrels take the corpus of at most one dataset; --datasets names several")
        selected = [open_dataset(names[0] if names else None, queries_file, qrels_file, relevant_grade)]
    elif names:
        selected = [load_dataset(name, relevance_threshold=relevant_grade) for name in names]
    else:
        raise RegardError("name --datasets, or give --queries and --qrels files")
    result = run_benchmark(parsed, selected, out, make_workspace(cache_dir, device, no_cache, scale_out),
                           split_list(metrics), baseline=baseline, split=split)
    header, rows = overview_rows(result.summary)
    click.echo("| " + " | ".join(header) + " |")
    for row in rows:
        click.echo("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    click.echo(f"\n{result.reused} stage output(s) reused, {result.computed} computed, "
               f"{time.perf_counter() - started:.1f}s; report: {result.out / 'report.html'}", err=True)
