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
@click.option("--lr", "learning_rate", type=float, default=5e-5, show_default=True, help="Encoder learning rate.")
@click.option("--head-lr", "head_learning_rate", type=float, default=1e-3, show_default=True,
              help="Learning rate of the fresh classification head.")
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


@command.command("distill")
@click.option("--teacher", required=True, help="Cross-encoder checkpoint whose scores the student learns.")
@click.option("--student", default="sentence-transformers/all-MiniLM-L6-v2", show_default=True,
              help="Bi-encoder (sentence-transformers) to start from.")
@click.option("--dataset", default="scifact", show_default=True)
@click.option("--split", default="train", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the student.")
@click.option("--loss", type=click.Choice(["margin-mse", "regression"]), default="margin-mse", show_default=True,
              help="margin-mse: match teacher score differences; regression: match teacher scores (the DSE paper).")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=2e-5, show_default=True)
@click.option("--negatives", type=int, default=4, show_default=True)
@click.option("--groups-per-batch", type=int, default=8, show_default=True)
@click.option("--candidate-depth", type=int, default=20, show_default=True,
              help="First-stage candidates per training query that the pairs are drawn from.")
@click.option("--dense-index", default=None, help="Also draw candidates from this dense index (RRF with BM25).")
@click.option("--bm25-index", default=None, help="BM25 index of the corpus (default: built once in the cache).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True)
@click.option("--device", default=None)
@click.option("--seed", type=int, default=13, show_default=True)
def distill(out, **options) -> None:
    """Distil a cross-encoder teacher into a bi-encoder student (Distilled Sentence Embedding).

    OUT is a sentence-transformers folder: index it with `regard index CORPUS --kind dense --model OUT`.
    """
    from regard.encoders.distill import DistillationConfig, distill as run_distillation

    folder = run_distillation(DistillationConfig(**options), out)
    click.echo(f"student saved in {folder}")


@command.command("generative")
@click.option("--dataset", default="scifact", show_default=True, help="Dataset whose judgments to train on.")
@click.option("--split", default="train", show_default=True, help="Split to train on (never the test split).")
@click.option("--base", default="HuggingFaceTB/SmolLM2-135M-Instruct", show_default=True,
              help="Causal LM to start from (its tokenizer must be the ngram index's).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the fine-tuned LM.")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=5e-5, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--spans", "spans_per_document", type=int, default=3, show_default=True,
              help="Random word-initial spans per relevant document (besides its title).")
@click.option("--span-tokens", type=int, default=10, show_default=True, help="Tokens per span.")
@click.option("--max-queries", type=int, default=None, help="Train on the first N judged queries only.")
@click.option("--device", default=None)
@click.option("--seed", type=int, default=13, show_default=True)
def generative(out, **options) -> None:
    """Fine-tune a causal LM to generate, from a query, the title and n-grams of its relevant documents (SEAL).

    OUT is a Hugging Face folder: search with `Generative(index, llm=OUT)` or `- generative: OUT`.
    """
    from regard.training.generative import GenerativeTrainingConfig, train_generative

    folder = train_generative(GenerativeTrainingConfig(**options), out)
    click.echo(f"generative LM saved in {folder}")
