"""TREC formats: SGML-style documents and topics, qrels, and run files."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

from regard.data.atomic_file import atomic_open
from regard.data.lines import iter_lines
from regard.data.types import Document, Qrels, Query, Run
from regard.errors import InputFormatError

_TAG = re.compile(r"<[^>]+>")
_FIELD = re.compile(r"<(?P<name>[A-Za-z]+)>(?P<value>.*?)(?=<|$)", re.S)
# Tags whose content is a document's title; everything else between <DOC> tags is text.
_TITLE_TAGS = {"TITLE", "HEADLINE", "HL", "HEAD"}
_META_TAGS = {"DOCNO", "DOCID", "DOCHDR", "DATE", "FILEID", "FIRST", "SECOND", "BYLINE", "DATELINE"}


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def iter_trec_documents(path: str | Path) -> Iterator[tuple[int, Document]]:
    """Yield ``(line_of_<DOC>, Document)`` from a TREC ``<DOC><DOCNO>...</DOCNO>...</DOC>`` file."""
    start = None
    body: list[str] = []
    for number, line in iter_lines(path):
        stripped = line.strip()
        if start is None:
            if not stripped.upper().startswith("<DOC>"):
                if stripped:
                    raise InputFormatError(path, "text outside a <DOC> element", line=number)
                continue
            # The rest of the <DOC> line is content, and may hold the whole document.
            start, body, line = number, [], stripped[5:]
            stripped = line.strip()
        close = stripped.upper().find("</DOC>")
        if close >= 0:
            if stripped[close + 6:].strip():
                raise InputFormatError(path, "text after </DOC> on the same line", line=number)
            body.append(stripped[:close])
            yield start, _parse_trec_document(path, start, "\n".join(body))
            start = None
        elif stripped.upper().startswith("<DOC>"):
            raise InputFormatError(path, f"<DOC> opened at line {start} is not closed", line=number)
        else:
            body.append(line)
    if start is not None:
        raise InputFormatError(path, "<DOC> is not closed before the end of the file", line=start)


def _parse_trec_document(path, line: int, raw: str) -> Document:
    match = re.search(r"<DOCNO>(.*?)</DOCNO>", raw, re.I | re.S)
    if match is None or not match.group(1).strip():
        raise InputFormatError(path, "document has no <DOCNO>", line=line, field="DOCNO")
    doc_id = match.group(1).strip()
    titles, texts = [], []
    remainder = raw[: match.start()] + raw[match.end():]
    for element in re.finditer(r"<([A-Za-z]+)[^>]*>(.*?)</\1>", remainder, re.S):
        name = element.group(1).upper()
        if name in _TITLE_TAGS:
            titles.append(_clean(element.group(2)))
        elif name not in _META_TAGS:
            texts.append(_clean(element.group(2)))
    untagged = re.sub(r"<([A-Za-z]+)[^>]*>.*?</\1>", " ", remainder, flags=re.S)
    texts.insert(0, _clean(untagged))
    return Document(id=doc_id, text=" ".join(t for t in texts if t), title=" ".join(t for t in titles if t))


def read_trec_topics(path: str | Path, field: str = "title") -> list[Query]:
    """Read ``<top>`` topics; ``field`` picks ``title``, ``desc`` or ``narr`` as the query text."""
    queries, block, start = [], [], None
    for number, line in iter_lines(path):
        stripped = line.strip()
        lowered = stripped.lower()
        if lowered.startswith("<top>"):
            start, block = number, [stripped[5:]]
        elif lowered.startswith("</top>"):
            if start is None:
                raise InputFormatError(path, "</top> without <top>", line=number)
            queries.append(_parse_topic(path, start, "\n".join(block), field))
            start = None
        elif start is not None:
            block.append(line)
    if start is not None:
        raise InputFormatError(path, "<top> is not closed before the end of the file", line=start)
    return queries


def _parse_topic(path, line: int, raw: str, field: str) -> Query:
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(raw):
        name = match.group("name").lower()
        if name.startswith("/"):
            continue
        fields.setdefault(name, match.group("value"))
    number = re.sub(r"^\s*Number:\s*", "", fields.get("num", ""), flags=re.I).strip()
    if not number:
        raise InputFormatError(path, "topic has no <num>", line=line, field="num")
    if field not in fields:
        raise InputFormatError(path, f"topic {number} has no <{field}>", line=line, field=field)
    text = re.sub(r"^\s*(Topic|Description|Narrative):\s*", "", fields[field], flags=re.I)
    return Query(id=number, text=" ".join(text.split()))


def read_trec_qrels(path: str | Path) -> Qrels:
    """Read TREC qrels: ``qid iteration docid grade`` per line."""
    qrels = Qrels()
    for number, line in iter_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise InputFormatError(path, f"expected 4 columns (qid iter docid grade), got {len(parts)}", line=number)
        qid, _, docid, grade = parts
        qrels.setdefault(qid, {})[docid] = _grade(path, number, grade)
    return qrels


def _grade(path, line: int, value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise InputFormatError(path, f"relevance grade {value!r} is not a number", line=line, field="grade") from None


def read_trec_run(path: str | Path) -> Run:
    """Read a TREC run: ``qid Q0 docid rank score tag`` per line (ordering by score, as trec_eval does)."""
    scores: dict[str, dict[str, float]] = {}
    for number, line in iter_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise InputFormatError(path, f"expected 6 columns (qid Q0 docid rank score tag), got {len(parts)}", line=number)
        qid, _, docid, _, score, _ = parts
        try:
            value = float(score)
        except ValueError:
            raise InputFormatError(path, f"score {score!r} is not a number", line=number, field="score") from None
        per_query = scores.setdefault(qid, {})
        if docid in per_query:
            raise InputFormatError(path, f"document {docid} appears twice for query {qid}", line=number, field="docid")
        per_query[docid] = value
    return Run.from_scores(scores)


def write_trec_run(run: Run, path: str | Path, tag: str = "regard") -> None:
    """Write a TREC run with ranks from 1; scores keep full precision so reading it back gives the same run."""
    tag = tag.replace(" ", "_") or "regard"
    with atomic_open(path) as out:
        for qid in sorted(run):
            for rank, (docid, score) in enumerate(run[qid], start=1):
                out.write(f"{qid} Q0 {docid} {rank} {score!r} {tag}\n")
