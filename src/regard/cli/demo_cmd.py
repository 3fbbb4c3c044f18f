"""``regard demo``: the main job end to end on SciFact."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--dataset", default="scifact", show_default=True, help="Dataset to index and evaluate.")
@click.option("--indexes", default="indexes", show_default=True, help="Folder for the indexes (reused if present).")
@click.option("--out", default=None, help="Folder for runs and metrics (default: runs/DATASET-test).")
def command(dataset: str, indexes: str, out: str | None) -> None:
    """Build BM25 and dense indexes of DATASET, run bm25, dense and their RRF, and print the evaluation."""
    from regard.cli.eval_cmd import evaluate_pipelines
    from regard.kinds import Index
    from regard.indexing.manifest import MANIFEST_NAME

    folders = {}
    for kind in ("bm25", "dense"):
        folder = Path(indexes) / f"{dataset}-{kind}"
        if (folder / MANIFEST_NAME).exists():
            click.echo(f"reusing {folder}", err=True)
        else:
            click.echo(f"building {kind} index of {dataset} into {folder}", err=True)
            Index.build(dataset, folder, kind=kind)
        folders[kind] = str(folder)
    expressions = [folders["bm25"], folders["dense"], f"{folders['bm25']} | {folders['dense']}"]
    evaluate_pipelines(dataset, None, expressions, ["ndcg@10", "recall@100", "map"], out)
