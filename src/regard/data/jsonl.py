"""JSON Lines: BEIR corpora and queries, and the generic JSONL document format."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from regard.data.atomic_file import atomic_open
from regard.data.lines import iter_lines
from regard.data.types import Document, Query
from regard.errors import InputFormatError

# Field names accepted for a document's id and text, in order of preference (BEIR's first).
ID_FIELDS = ("_id", "id", "docid", "doc_id")
TEXT_FIELDS = ("text", "contents", "body")


def iter_json_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file."""
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputFormatError(path, f"malformed JSON: {err.msg} at column {err.colno}", line=number) from None
        if not isinstance(record, dict):
            raise InputFormatError(path, "expected a JSON object", line=number)
        yield number, record


def _pick(record: dict[str, Any], names: tuple[str, ...], path, line: int, what: str, required: bool = True):
    for name in names:
        if name in record:
            value = record[name]
            if value is None:
                return ""
            if not isinstance(value, (str, int)):
                raise InputFormatError(path, f"expected a string, got {type(value).__name__}", line=line, field=name)
            return str(value)
    if required:
        raise InputFormatError(path, f"missing {what} (one of {', '.join(names)})", line=line, field=names[0])
    return ""


def iter_jsonl_documents(path: str | Path) -> Iterator[tuple[int, Document]]:
    """Yield ``(line_number, Document)`` from a BEIR ``corpus.jsonl`` or a generic JSONL corpus."""
    for number, record in iter_json_records(path):
        doc_id = _pick(record, ID_FIELDS, path, number, "document id")
        text = _pick(record, TEXT_FIELDS, path, number, "document text")
        title = _pick(record, ("title",), path, number, "title", required=False)
        yield number, Document(id=doc_id, text=text, title=title)


def read_jsonl_queries(path: str | Path) -> list[Query]:
    """Read queries from a BEIR ``queries.jsonl`` (``_id``, ``text``)."""
    queries = []
    for number, record in iter_json_records(path):
        qid = _pick(record, ID_FIELDS, path, number, "query id")
        text = _pick(record, ("text", "query", "title"), path, number, "query text")
        queries.append(Query(id=qid, text=text))
    return queries


def write_jsonl_documents(documents: Iterable[Document], path: str | Path) -> int:
    """Write documents as BEIR-style JSONL (``_id``, ``title``, ``text``); returns the count."""
    count = 0
    with atomic_open(path) as out:
        for doc in documents:
            out.write(json.dumps({"_id": doc.id, "title": doc.title, "text": doc.text}, ensure_ascii=False) + "\n")
            count += 1
    return count
