"""``regard train``: fine-tune models on a dataset's own judgments."""

from __future__ import annotations

import click


@click.group("train")
def command() -> None:
    """Train rerankers and retrievers on a dataset's training split."""


@command.command("cross-encoder")
@click.option("--dataset", default="scifact", show_default=True, help="Dataset whose judgments to train on.")
@click.option("--split", default="train", show_default=True, help="Split to train on (never the test split).")
@click.option("--base", default="sentence-transformers/all-MiniLM-L6-v2", show_default=True,
              help="Encoder to start from (a fresh one-logit classification head is added).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the checkpoint.")
@click.option("--epochs", type=int, default=2, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=3e-5, show_default=True)
@click.option("--negatives", type=int, default=7, show_default=True, help="Hard negatives per relevant document.")
@click.option("--groups-per-batch", type=int, default=4, show_default=True, help="Queries per optimiser step.")
@click.option("--max-length", type=int, default=256, show_default=True, help="Tokens per query-document pair.")
@click.option("--held-out", type=float, default=0.1, show_default=True,
              help="Fraction of training queries kept for validation nDCG@10.")
@click.option("--dense-index", default=None, help="Also mine negatives from this dense index (fused with BM25).")
@click.option("--bm25-index", default=None, help="BM25 index of the corpus (default: built once in the cache).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True)
@click.option("--device", default=None)
@click.option("--seed", type=int, default=13, show_default=True)
def cross_encoder(out, **options) -> None:
    """Fine-tune a cross-encoder with BM25 hard negatives; resumes after the last finished epoch.

    The result in OUT is a standard Hugging Face sequence-classification checkpoint (safetensors)
    that regard's CrossEncoder stage and sentence-transformers' CrossEncoder both load.
    """
    from regard.training.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingConfig

    folder = CrossEncoderTrainer(CrossEncoderTrainingConfig(**options), out).run()
    click.echo(f"cross-encoder saved in {folder}")
