"""The ``--threads`` option of ``regard search`` and ``regard eval``: BM25 batch search on several cores."""

from __future__ import annotations

import os

import click

threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None,
    help="Queries BM25 searches at once (default: all cores); the runs are the same as with one thread.")


def bm25_options(threads: int | None) -> dict[str, dict[str, int]]:
    """Retriever options for ``PipelineParser``: every BM25 operand searches with ``threads`` (None: all cores)."""
    return {"bm25": {"threads": threads or os.cpu_count() or 1}}
