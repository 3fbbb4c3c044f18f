"""The JSON answer for one query: ranked documents with snippets, each stage's score and rank, timings."""

from __future__ import annotations

import re
from collections.abc import Sequence

from regard.data.types import Document
from regard.indexing.docstore import DocStore
from regard.serve.trace import StageStep

SNIPPET_CHARS = 300
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to be worth highlighting.
STOPWORDS = frozenset(
    "a an and are as at be but by did do does for from had has have how i if in into is it its no not of on or "
    "so such than that the their then there these they this to was we were what when where which who why will "
    "with you your".split()
)


def query_terms(query: str) -> list[str]:
    """The query's words worth highlighting: lower-cased, without stopwords and one-letter words, in order."""
    words = (w.lower() for w in _WORD.findall(query))
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOPWORDS))


def _stem(term: str) -> str:
    # A crude suffix strip, so "mutations" also marks "mutation" and "mutated" marks "mutate".
    for suffix in ("ing", "es", "ed", "s"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            return term[: -len(suffix)]
    return term


def highlight_pattern(terms: Sequence[str]) -> re.Pattern | None:
    """A regex matching words that start with a query term's stem (the page uses the same rule)."""
    stems = sorted({_stem(t) for t in terms}, key=len, reverse=True)
    if not stems:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(s) for s in stems) + r")\w*", re.IGNORECASE | re.UNICODE)


def snippet(text: str, terms: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """The ``width`` characters of ``text`` that hold the most distinct query terms, cut at word boundaries."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    pattern = highlight_pattern(terms)
    matches = list(pattern.finditer(text)) if pattern else []
    best_start, best_count = 0, -1
    for match in matches:
        start = max(0, match.start() - width // 5)
        window = text[start:start + width].lower()
        count = sum(1 for stem in {_stem(t) for t in terms} if stem in window)
        if count > best_count:
            best_start, best_count = start, count
    if best_start > 0:
        space = text.find(" ", best_start)
        best_start = space + 1 if 0 <= space < best_start + 40 else best_start
    end = best_start + width
    if end < len(text):
        space = text.rfind(" ", best_start, end)
        end = space if space > best_start else end
    return ("… " if best_start > 0 else "") + text[best_start:end] + (" …" if end < len(text) else "")


def fetch_documents(docstores: Sequence[DocStore], docids: Sequence[str]) -> dict[str, Document]:
    """Documents by id from the first docstore that has each."""
    found: dict[str, Document] = {}
    for store in docstores:
        missing = [d for d in docids if d not in found]
        if not missing:
            break
        found.update(store.get_many(missing))
    return found


def search_answer(query: str, qid: str, k: int, steps: Sequence[StageStep], final: list[tuple[str, float]],
                  docstores: Sequence[DocStore], batch_size: int) -> dict:
    """The answer to one query: its top ``k`` with title, snippet, each stage's score and rank, stage timings."""
    top = final[:k]
    wanted = {docid for docid, _ in top}
    positions: list[dict[str, tuple[int, float]]] = []
    for step in steps:
        hits = step.run.get(qid, [])
        positions.append({d: (rank, s) for rank, (d, s) in enumerate(hits, start=1) if d in wanted})
    terms = query_terms(query)
    documents = fetch_documents(docstores, [d for d, _ in top])
    results = []
    for rank, (docid, score) in enumerate(top, start=1):
        doc = documents.get(docid)
        results.append({
            "docid": docid, "score": score, "rank": rank,
            "title": doc.title if doc else "", "text": snippet(doc.text, terms) if doc else "",
            "stages": {step.label: at.get(docid, (None, None))[1] for step, at in zip(steps, positions)},
            "ranks": {step.label: at.get(docid, (None, None))[0] for step, at in zip(steps, positions)},
        })
    return {
        "query": query, "k": k, "terms": terms, "results": results,
        "stages": [{"name": step.label, "ms": round(step.seconds * 1000, 3)} for step in steps],
        "batch_size": batch_size,
    }
