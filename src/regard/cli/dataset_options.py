"""The options that name what to evaluate on: a dataset (name, BEIR folder, ``irds:<id>``) and/or topics and qrels files."""

from __future__ import annotations

import click


def dataset_options(function):
    """Add ``--dataset``, ``--queries``, ``--qrels`` and ``--relevant-grade`` to a command."""
    options = [
        click.option("--dataset", default=None,
                     help="A dataset name (scifact, vaswani, dl19, loco/qmsum, ...), a BEIR folder (corpus.jsonl, "
                          "queries.jsonl, qrels/<split>.tsv) or an ir_datasets id (irds:beir/scifact/test)."),
        click.option("--queries", "queries_file", default=None, type=click.Path(dir_okay=False, exists=True),
                     help="Topics file: TREC <top> blocks, qid<TAB>text TSV, or JSONL (with --qrels; replaces the "
                          "dataset's queries)."),
        click.option("--qrels", "qrels_file", default=None, type=click.Path(dir_okay=False, exists=True),
                     help="Qrels file: TREC (qid iter docid grade) or BEIR TSV with a header (with --queries)."),
        click.option("--relevant-grade", type=int, default=None,
                     help="Lowest grade counted as relevant by recall and MAP (default: the dataset's own, "
                          "e.g. 2 for dl19; 1 for files).")
    ]
    for option in reversed(options):
        function = option(function)
    return function


def open_selected_dataset(dataset, queries_file, qrels_file, relevant_grade, split=None):
    """The dataset the options name; ``--split`` cannot pick a split when a qrels file is given."""
    from regard.datasets import open_dataset
    from regard.errors import RegardError

    if qrels_file and split:
        raise RegardError("--split picks a qrels file of a dataset; with --qrels the judgments come from that file")
    return open_dataset(dataset, queries_file, qrels_file, relevant_grade)
