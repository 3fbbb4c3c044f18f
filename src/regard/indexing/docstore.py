"""The document store: an SQLite table of id, title and text in index order."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from regard.data.types import Document
from regard.errors import BadIndexError

DOCSTORE_NAME = "docstore.sqlite"
_BATCH = 2000


def write_docstore(documents: Iterable[Document], folder: Path) -> tuple[int, str]:
    """Write documents to ``folder/docstore.sqlite``; returns (count, corpus fingerprint).

    The fingerprint is a SHA-256 over every (id, title, text) in order, so two indexes of the same
    corpus share it and cached embeddings can be reused between them.
    """
    path = folder / DOCSTORE_NAME
    path.unlink(missing_ok=True)
    digest = hashlib.sha256()
    count = 0
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE docs (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT, text TEXT)")
        batch = []
        for doc in documents:
            for part in (doc.id, doc.title, doc.text):
                digest.update(part.encode("utf-8"))
                digest.update(b"\x00")
            batch.append((count, doc.id, doc.title, doc.text))
            count += 1
            if len(batch) >= _BATCH:
                db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", batch)
                batch.clear()
        db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", batch)
    return count, digest.hexdigest()


class DocStore:
    """Read access to a docstore: texts by id for rerankers, and the index-order id list."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / DOCSTORE_NAME
        if not self.path.exists():
            raise BadIndexError(f"{self.path}: docstore missing")
        # A file URI escapes '#', '?' and '%' in the path; read-only so searches never modify an index.
        self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self._ids: list[str] | None = None

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]

    def ids(self) -> list[str]:
        """Document ids in index order (position 0 first)."""
        if self._ids is None:
            self._ids = [row[0] for row in self._db.execute("SELECT id FROM docs ORDER BY position")]
        return self._ids

    def get(self, doc_id: str) -> Document | None:
        row = self._db.execute("SELECT id, title, text FROM docs WHERE id = ?", (doc_id,)).fetchone()
        return Document(id=row[0], title=row[1], text=row[2]) if row else None

    def get_many(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """Documents by id; ids not in the store are absent from the result."""
        wanted = list(dict.fromkeys(doc_ids))
        found: dict[str, Document] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT id, title, text FROM docs WHERE id IN ({marks})", chunk):
                found[row[0]] = Document(id=row[0], title=row[1], text=row[2])
        return found

    def __iter__(self) -> Iterator[Document]:
        for row in self._db.execute("SELECT id, title, text FROM docs ORDER BY position"):
            yield Document(id=row[0], title=row[1], text=row[2])

    def close(self) -> None:
        self._db.close()
