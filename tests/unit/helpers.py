"""Helpers to write tiny fixture files inside the tests (no dataset files live in the repo)."""

from __future__ import annotations

import gzip
import textwrap
from pathlib import Path


def write_file(path: Path, content: str | bytes, dedent: bool = True) -> Path:
    """Write ``content`` to ``path`` and return it.

    Text is dedented (so fixtures can be indented triple-quoted strings) and encoded as UTF-8; bytes
    are written as they are. A name ending in ``.gz`` is gzip-compressed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = (textwrap.dedent(content) if dedent else content).encode("utf-8")
    if path.name.endswith(".gz"):
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def jsonl(*records: str) -> str:
    """JSON object literals joined into JSONL text, one per line."""
    return "".join(record + "\n" for record in records)


def tsv(*rows) -> str:
    """Rows of columns joined into tab-separated text, one row per line."""
    return "".join("\t".join(row) + "\n" for row in rows)


def trec_run_text(rows) -> str:
    """TREC run lines from ``(qid, docid, score)`` triples, ranked in the order given."""
    lines, ranks = [], {}
    for qid, docid, score in rows:
        ranks[qid] = ranks.get(qid, 0) + 1
        lines.append(f"{qid} Q0 {docid} {ranks[qid]} {score!r} test\n")
    return "".join(lines)

