"""A persistent cache of reranker scores in SQLite, keyed by (namespace, query text, docid).

The namespace names the scoring model and the corpus, so a score is reused only when both match.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from regard.datasets import cache_root

CACHE_FILE = "reranker_scores.sqlite"


def _key(namespace: str, query: str) -> str:
    return hashlib.sha256(f"{namespace}\x00{query}".encode("utf-8")).hexdigest()


class ScoreCache:
    """Scores of (query, docid) pairs under a namespace; safe to share between processes."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else cache_root() / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS scores (qkey TEXT, docid TEXT, score REAL, PRIMARY KEY (qkey, docid))")

    def lookup(self, namespace: str, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """Cached scores of the given (query text, docid) pairs; absent pairs are left out."""
        by_query: dict[str, list[str]] = {}
        for query, docid in pairs:
            by_query.setdefault(query, []).append(docid)
        found = {}
        for query, docids in by_query.items():
            qkey = _key(namespace, query)
            for start in range(0, len(docids), 500):
                chunk = docids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT docid, score FROM scores WHERE qkey = ? AND docid IN ({marks})",
                                        [qkey, *chunk])
                found.update(((query, docid), score) for docid, score in rows)
        return found

    def store(self, namespace: str, scores: dict[tuple[str, str], float]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?)",
                                 [(_key(namespace, q), d, s) for (q, d), s in scores.items()])
