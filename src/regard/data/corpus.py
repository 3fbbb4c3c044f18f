"""A corpus on disk in any supported format, read as a validated stream of documents."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from regard.data.jsonl import iter_jsonl_documents
from regard.data.lines import open_binary
from regard.data.trec import iter_trec_documents
from regard.data.tsv import iter_tsv_documents
from regard.data.types import Document
from regard.errors import InputFormatError

log = logging.getLogger(__name__)

FORMATS: dict[str, Callable[[Path], Iterator[tuple[int, Document]]]] = {
    "jsonl": iter_jsonl_documents,
    "tsv": iter_tsv_documents,
    "trec": iter_trec_documents,
}


_WHITESPACE = re.compile(r"\s")


class CheckedDocuments:
    """Documents checked as they stream: ids present, unique and free of whitespace; empty ones skipped.

    ``numbered`` yields ``(line, Document)``; errors name ``source``, the line and the field. A TREC run
    separates its columns by whitespace, so an id containing any could not be written and read back.
    ``skipped_empty`` counts documents whose title and text are both empty, once iteration ends.
    """

    def __init__(self, numbered: Iterable[tuple[int, Document]], source: str | Path, unit: str = "line"):
        self.numbered = numbered
        self.source = self.path = source
        self.unit = unit
        self.skipped_empty = 0

    def __iter__(self) -> Iterator[Document]:
        seen: dict[str, int] = {}
        self.skipped_empty = 0
        for line, doc in self.numbered:
            if not doc.id:
                raise InputFormatError(self.source, "empty document id", line=line, field="id")
            if _WHITESPACE.search(doc.id):
                raise InputFormatError(self.source, f"document id {doc.id!r} contains whitespace, which a TREC run "
                                       "cannot hold", line=line, field="id")
            if doc.id in seen:
                raise InputFormatError(
                    self.source, f"duplicate document id {doc.id!r} (first at {self.unit} {seen[doc.id]})", line=line, field="id"
                )
            seen[doc.id] = line
            if not doc.text.strip() and not doc.title.strip():
                self.skipped_empty += 1
                log.warning("%s:%d: skipping empty document %r", self.source, line, doc.id)
                continue
            yield doc


def checked_documents(documents: Iterable[Document]) -> Iterable[Document]:
    """Check an iterable of Documents as a corpus file is checked; errors name the item (from 1).

    A source that checks its own documents and counts its skips (``skipped_empty``) passes through.
    """
    if hasattr(documents, "skipped_empty"):
        return documents
    return CheckedDocuments(enumerate(documents, start=1), "<documents>", unit="item")


def detect_format(path: Path) -> str:
    """Guess a corpus file's format from its name, then from its first non-blank line."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith((".trec", ".sgml", ".trectext")):
        return "trec"
    with open_binary(path) as handle:
        for raw in handle:
            head = raw.strip()
            if head:
                if head.upper().startswith(b"<DOC>"):
                    return "trec"
                if head.startswith(b"{"):
                    return "jsonl"
                if b"\t" in head:
                    return "tsv"
                break
    raise InputFormatError(path, "cannot tell the corpus format; name it .jsonl, .tsv or .trec")


class Corpus:
    """Documents from one file (or a BEIR folder), validated as they stream.

    Iterating raises InputFormatError on a duplicate document id and skips documents whose title and
    text are both empty; ``skipped_empty`` counts those skips after iteration.
    """

    def __init__(self, path: str | Path, fmt: str | None = None, name: str | None = None):
        path = Path(path)
        if path.is_dir():
            if not (path / "corpus.jsonl").exists():
                raise InputFormatError(path, "folder has no corpus.jsonl (expected the BEIR layout)")
            path = path / "corpus.jsonl"
        if not path.exists():
            raise InputFormatError(path, "corpus file not found")
        self.path = path
        self.format = fmt or detect_format(path)
        if self.format not in FORMATS:
            raise ValueError(f"unknown corpus format {self.format!r}; expected one of {sorted(FORMATS)}")
        self.name = name or (path.parent.name if path.name == "corpus.jsonl" else path.stem)
        self.skipped_empty = 0

    def files(self) -> list[Path]:
        """The files the documents are read from (for content fingerprints)."""
        return [self.path]

    def __iter__(self) -> Iterator[Document]:
        checked = CheckedDocuments(FORMATS[self.format](self.path), self.path)
        yield from checked
        self.skipped_empty = checked.skipped_empty

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r}, format={self.format!r})"
