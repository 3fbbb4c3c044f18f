"""``regard benchmark``: every config on every dataset, with cached stages, and a report."""

from __future__ import annotations

import time

import click

from regard.cli.run_cmd import make_workspace, split_list, workspace_options


@click.command("benchmark")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--datasets", required=True, help="Comma-separated dataset names, e.g. scifact,vaswani.")
@click.option("--out", default="runs/benchmark", show_default=True, help="Output folder.")
@click.option("--baseline", default=None, help="Config name to test the others against (default: the first).")
@click.option("--split", default=None, help="Split (default: each dataset's test split).")
@workspace_options
def command(configs, datasets, out, baseline, split, metrics, cache_dir, device, no_cache):
    """Run each CONFIG on each dataset and write runs, metrics and a report.

    OUT/DATASET/ holds a TREC run per config, metrics.json (means, per-query scores, p-values against
    the baseline) and provenance.json; OUT/ holds summary.json, report.md, report.html and the PNG
    plots. Stage outputs are cached, so a rerun recomputes nothing.
    """
    from regard.experiments.benchmark import run_benchmark
    from regard.experiments.config import load_config
    from regard.report.tables import overview_rows

    started = time.perf_counter()
    parsed = [load_config(path) for path in configs]
    result = run_benchmark(parsed, split_list(datasets), out, make_workspace(cache_dir, device, no_cache),
                           split_list(metrics), baseline=baseline, split=split)
    header, rows = overview_rows(result.summary)
    click.echo("| " + " | ".join(header) + " |")
    for row in rows:
        click.echo("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    click.echo(f"\n{result.reused} stage output(s) reused, {result.computed} computed, "
               f"{time.perf_counter() - started:.1f}s; report: {result.out / 'report.html'}", err=True)
