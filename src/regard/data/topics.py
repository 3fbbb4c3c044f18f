"""Topics and qrels files in whatever format they ship: the format is read from the first line.

Topics: TREC ``<top>`` blocks, ``qid<TAB>text`` TSV (as TREC DL ships them), or JSONL (``_id``/``id``
and ``text``/``query``). Qrels: TREC (``qid iter docid grade``) or BEIR TSV (``query-id<TAB>corpus-id<TAB>score``
with a header row).
"""

from __future__ import annotations

from pathlib import Path

from regard.data.jsonl import read_jsonl_queries
from regard.data.lines import iter_lines
from regard.data.trec import read_trec_qrels, read_trec_topics
from regard.data.tsv import read_beir_qrels, read_tsv_queries
from regard.data.types import Qrels, Query
from regard.errors import InputFormatError


def _first_line(path: str | Path) -> str:
    for _, line in iter_lines(path):
        if line.strip():
            return line.strip()
    raise InputFormatError(path, "the file is empty")


def topics_format(path: str | Path) -> str:
    """``trec``, ``jsonl`` or ``tsv``, from the file's first non-blank line."""
    first = _first_line(path)
    if first.lower().startswith("<top"):
        return "trec"
    if first.startswith("{"):
        return "jsonl"
    if "\t" in first:
        return "tsv"
    raise InputFormatError(path, "not a topics file: expected TREC <top> blocks, qid<TAB>text lines or JSONL",
                           line=1)


def read_queries_file(path: str | Path, field: str = "title") -> list[Query]:
    """Read a topics file in any supported format; ``field`` picks the TREC topic field."""
    fmt = topics_format(path)
    if fmt == "trec":
        return read_trec_topics(path, field=field)
    if fmt == "jsonl":
        return read_jsonl_queries(path)
    return read_tsv_queries(path)


def qrels_format(path: str | Path) -> str:
    """``trec`` (four whitespace-separated columns) or ``beir`` (three tab-separated, with a header)."""
    first = _first_line(path)
    columns = first.split("\t")
    if len(columns) == 3:
        return "beir"
    if len(first.split()) == 4:
        return "trec"
    raise InputFormatError(path, "not a qrels file: expected 'qid iter docid grade' (TREC) or "
                                 "'query-id<TAB>corpus-id<TAB>score' (BEIR)", line=1)


def read_qrels_file(path: str | Path) -> Qrels:
    """Read a TREC or BEIR qrels file, whichever it is."""
    return read_beir_qrels(path) if qrels_format(path) == "beir" else read_trec_qrels(path)
