"""``regard datasets``: list, describe and download named datasets."""

from __future__ import annotations

import click


@click.group("datasets")
def command() -> None:
    """Named test collections (BEIR, Vaswani, TREC DL19 reranking slice, LoCoV1)."""


@command.command("list")
def list_datasets() -> None:
    """List known datasets and where each is available locally."""
    from regard.datasets import REGISTRY, locate

    for name in sorted(REGISTRY):
        where = locate(name)
        click.echo(f"{name:18} {'local: ' + str(where) if where else 'not downloaded':60.60} {REGISTRY[name].description}")


@command.command("info")
@click.argument("name", required=False)
@click.option("--queries", "queries_file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Topics file (TREC, TSV or JSONL), with --qrels.")
@click.option("--qrels", "qrels_file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Qrels file (TREC or BEIR TSV), with --queries.")
def info(name: str | None, queries_file: str | None, qrels_file: str | None) -> None:
    """Describe NAME (a dataset name, a BEIR folder or irds:<id>) or topics and qrels files.

    Prints the location, the relevance threshold, and query and judgment counts per split.
    """
    from regard.datasets import open_dataset

    data = open_dataset(name, queries_file, qrels_file, download_missing=False)
    click.echo(f"{data.name}: {data.spec.description}")
    if data.spec.note:
        click.echo(f"note: {data.spec.note}")
    click.echo(f"location: {data.root}")
    click.echo(f"relevant grade: >= {data.relevance_threshold}")
    for split in data.splits():
        qrels = data.qrels(split)
        judgments = sum(len(j) for j in qrels.values())
        click.echo(f"split {split}: {len(data.queries(split))} queries, {judgments} judgments")


@command.command("download")
@click.argument("name")
def download(name: str) -> None:
    """Download dataset NAME into the cache (unless the local mirror already has it)."""
    from regard.datasets import download as fetch, locate

    where = locate(name)
    if where is None:
        where = fetch(name)
    click.echo(f"{name}: {where}")
