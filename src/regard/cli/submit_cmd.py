"""``regard submit``: package runs for the BEIR leaderboard, and check a package."""

from __future__ import annotations

import click


@click.group("submit")
def command() -> None:
    """Package runs for the BEIR leaderboard (top 1000 per query, metadata), validated and scored locally."""


@command.command("package")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", required=True, help="Package folder (or .zip for --layout beir-leaderboard).")
@click.option("--model", required=True, help="Model name shown on the leaderboard (also the run tag).")
@click.option("--description", required=True, help="One or two sentences on the model and pipeline.")
@click.option("--link", "links", multiple=True, help="A paper or code link; repeat for several.")
@click.option("--layout", type=click.Choice(["regard", "beir-leaderboard"]), default="regard", show_default=True,
              help="regard: metadata.json + runs/DATASET.trec; beir-leaderboard: a zip of DATASET.run + metadata.")
@click.option("--overwrite", is_flag=True, help="Replace an existing package at --out.")
def package(sources, out, model, description, links, layout, overwrite):
    """Package SOURCES: 'regard run' output folders, or DATASET=RUN_FILE pairs.

    Every run is validated first (every test query present, no document twice for a query, ranks
    following descending scores, numeric scores, ids that exist in the corpus), cut to the top 1000,
    scored with nDCG@10 and Recall@100, and the finished package is validated again.
    """
    from regard.submit import build_package, source_from_argument

    parsed = [source_from_argument(text) for text in sources]
    path = build_package(parsed, out, model, description, list(links), layout=layout, overwrite=overwrite)
    click.echo(f"package written to {path}")


@command.command("check")
@click.argument("package_dir", type=click.Path(exists=True, file_okay=False))
def check(package_dir):
    """Validate a package folder in regard's layout and print its locally computed metrics."""
    from regard.submit import validate_package

    metadata = validate_package(package_dir)
    for dataset, entry in sorted(metadata["datasets"].items()):
        figures = ", ".join(f"{m} {v:.4f}" for m, v in entry["metrics"].items())
        click.echo(f"{dataset}: {entry['queries']} queries, {figures}")
    click.echo(f"{package_dir}: valid")
