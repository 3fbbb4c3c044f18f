"""Whether a query has anything to search for: one rule for every retriever."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from regard.data.types import Query

log = logging.getLogger("regard.retrieval")

#: Lucene's English stop set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET), the analyzer of regard's BM25.
ENGLISH_STOPWORDS = frozenset("""
    a an and are as at be but by for if in into is it no not of on or such that the their then there these
    they this to was will with
""".split())

_WORD = re.compile(r"\w+")
_SHOWN_IDS = 20


def has_search_terms(text: str) -> bool:
    """True when ``text`` has a word that is not an English stopword (punctuation and spaces do not count)."""
    return any(word not in ENGLISH_STOPWORDS for word in _WORD.findall(text.lower()))


def split_searchable(queries: Sequence[Query], stage_name: str) -> tuple[list[Query], list[str]]:
    """(queries with search terms, ids of those without); logs one warning naming the latter."""
    searchable = [q for q in queries if has_search_terms(q.text)]
    if len(searchable) == len(queries):
        return searchable, []
    blank = [q.id for q in queries if not has_search_terms(q.text)]
    shown = ", ".join(blank[:_SHOWN_IDS]) + (f" and {len(blank) - _SHOWN_IDS} more" if len(blank) > _SHOWN_IDS else "")
    log.warning("%s: no search terms (empty, punctuation or stopwords only) in query %s: empty ranking",
                stage_name, shown)
    return searchable, blank
