"""Tab-separated formats: documents, queries, and BEIR qrels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from regard.data.lines import iter_lines
from regard.data.types import Document, Qrels, Query
from regard.errors import InputFormatError

_HEADER_IDS = {"id", "_id", "docid", "doc_id", "qid", "query-id", "query_id"}


def _is_header(line_number: int, columns: list[str]) -> bool:
    return line_number == 1 and columns[0].strip().lower() in _HEADER_IDS


def _rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, columns)`` for each non-blank, non-header line."""
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        columns = line.split("\t")
        if not _is_header(number, columns):
            yield number, columns


def iter_tsv_documents(path: str | Path) -> Iterator[tuple[int, Document]]:
    """Yield ``(line_number, Document)`` from ``id<TAB>text`` or ``id<TAB>title<TAB>text`` lines.

    A first line whose first column is a name such as ``id`` or ``docid`` is a header and skipped.
    """
    for number, columns in _rows(path):
        if len(columns) == 2:
            yield number, Document(id=columns[0].strip(), text=columns[1])
        elif len(columns) == 3:
            yield number, Document(id=columns[0].strip(), title=columns[1], text=columns[2])
        else:
            raise InputFormatError(
                path, f"expected 2 (id, text) or 3 (id, title, text) tab-separated columns, got {len(columns)}",
                line=number,
            )


def read_tsv_queries(path: str | Path) -> list[Query]:
    """Read ``qid<TAB>text`` queries (an optional header line is skipped)."""
    queries = []
    for number, columns in _rows(path):
        if len(columns) != 2:
            raise InputFormatError(path, f"expected 2 tab-separated columns (qid, text), got {len(columns)}", line=number)
        queries.append(Query(id=columns[0].strip(), text=columns[1].strip()))
    return queries


def read_beir_qrels(path: str | Path) -> Qrels:
    """Read BEIR qrels: ``query-id<TAB>corpus-id<TAB>score`` with a header row."""
    qrels = Qrels()
    for number, columns in _rows(path):
        if len(columns) != 3:
            raise InputFormatError(path, f"expected 3 tab-separated columns, got {len(columns)}", line=number)
        qid, docid, grade = (c.strip() for c in columns)
        try:
            qrels.setdefault(qid, {})[docid] = int(float(grade))
        except ValueError:
            raise InputFormatError(path, f"relevance grade {grade!r} is not a number", line=number, field="score") from None
    return qrels
