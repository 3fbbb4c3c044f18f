"""The document store: an SQLite table of id, title and text in index order."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from regard.data.types import Document
from regard.errors import BadIndexError

DOCSTORE_NAME = "docstore.sqlite"
DOCIDS_NAME = "docids.npy"
_BATCH = 2000
_LOOKUP_BATCH = 900  # ids or positions per SQL query (under SQLite's variable limit everywhere)


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
    _write_docids(path, folder / DOCIDS_NAME, count)
    return count, digest.hexdigest()


def _write_docids(database: Path, target: Path, count: int) -> None:
    """Document ids in position order as one memory-mappable array of UTF-8 bytes (fixed width)."""
    with sqlite3.connect(database) as db:
        width = db.execute("SELECT max(length(CAST(id AS BLOB))) FROM docs").fetchone()[0] or 1
        partial = target.with_name(target.name + ".partial.npy")
        array = np.lib.format.open_memmap(partial, mode="w+", dtype=f"S{width}", shape=(count,))
        cursor = db.execute("SELECT id FROM docs ORDER BY position")
        start = 0
        while rows := cursor.fetchmany(50_000):
            array[start:start + len(rows)] = [row[0].encode("utf-8") for row in rows]
            start += len(rows)
        array.flush()
        del array
    os.replace(partial, target)


class DocIds(Sequence):
    """Document ids by position from a memory-mapped array: no Python string per document is kept."""

    def __init__(self, array: np.ndarray):
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [raw.decode("utf-8") for raw in self._array[position].tolist()]
        return self._array[position].decode("utf-8")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(other) == len(self) and list(self) == list(other)

    def utf8_array(self) -> np.ndarray:
        """The ids as a read-only array of UTF-8 bytes (numpy ``S`` dtype), without a Python string each."""
        return self._array

    __hash__ = None  # a mutable-looking sequence: compared by content, not hashed

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self._array), 65_536):
            yield from (raw.decode("utf-8") for raw in self._array[start:start + 65_536].tolist())


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

    def ids(self) -> Sequence[str]:
        """Document ids in index order (position 0 first), memory-mapped (a list for indexes built before)."""
        if self._ids is None:
            path = self.path.parent / DOCIDS_NAME
            if path.is_file():
                self._ids = DocIds(np.load(path, mmap_mode="r", allow_pickle=False))
            else:
                self._ids = [row[0] for row in self._db.execute("SELECT id FROM docs ORDER BY position")]
        return self._ids

    def positions(self, doc_ids: Iterable[str]) -> dict[str, int]:
        """Positions of the given ids (looked up in the store's id index; unknown ids are absent)."""
        wanted = list(dict.fromkeys(doc_ids))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _LOOKUP_BATCH):
            chunk = wanted[start:start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT id, position FROM docs WHERE id IN ({marks})", chunk))
        return found

    def documents_at(self, positions: Sequence[int]) -> list[Document]:
        """The documents at ``positions``, in that order."""
        wanted = [int(p) for p in positions]
        found: dict[int, Document] = {}
        for start in range(0, len(wanted), _LOOKUP_BATCH):
            chunk = wanted[start:start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(chunk))
            for position, doc_id, title, text in self._db.execute(
                    f"SELECT position, id, title, text FROM docs WHERE position IN ({marks})", chunk):
                found[position] = Document(id=doc_id, title=title, text=text)
        return [found[p] for p in wanted]

    def between(self, start: int, stop: int) -> list[Document]:
        """The documents at positions ``start`` to ``stop - 1``."""
        rows = self._db.execute("SELECT id, title, text FROM docs WHERE position >= ? AND position < ? "
                                "ORDER BY position", (start, stop))
        return [Document(id=row[0], title=row[1], text=row[2]) for row in rows]

    def batches(self, size: int = 10_000) -> Iterator[list[Document]]:
        """Every document in index order, ``size`` at a time."""
        for start in range(0, len(self), size):
            yield self.between(start, start + size)

    def content_lengths(self) -> np.ndarray:
        """Characters of title and text of every document, by position (for length-sorted encoding)."""
        lengths = np.zeros(len(self), dtype=np.int64)
        cursor = self._db.execute("SELECT position, length(title) + length(text) FROM docs ORDER BY position")
        while rows := cursor.fetchmany(100_000):
            block = np.asarray(rows, dtype=np.int64)
            lengths[block[:, 0]] = block[:, 1]
        return lengths

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
