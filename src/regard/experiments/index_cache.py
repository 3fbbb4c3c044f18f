"""Indexes built into a cache folder keyed by dataset and index parameters, and reused."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regard.errors import BadIndexError
from regard.indexing.index import Index

if TYPE_CHECKING:
    from regard.datasets import Dataset

# Parameters that change how fast an index is built, not what it holds.
_SPEED_ONLY = {"device", "batch_size", "use_cache"}


def params_key(dataset: str, kind: str, params: dict[str, Any]) -> str:
    """A short stable hash of what determines an index's contents."""
    relevant = {k: v for k, v in sorted(params.items()) if k not in _SPEED_ONLY}
    text = json.dumps({"dataset": dataset, "kind": kind, "params": relevant}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class IndexCache:
    """Builds each (dataset, kind, parameters) index once under ``root`` and opens it afterwards."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._open: dict[Path, Index] = {}
        self._lock = threading.Lock()
        self.built: list[Path] = []  # folders built (not reused) by this cache object

    def folder(self, dataset: str, kind: str, params: dict[str, Any]) -> Path:
        """Where the index of these parameters lives: ``ROOT/DATASET-KIND-HASH``."""
        return self.root / f"{dataset}-{kind}-{params_key(dataset, kind, params)}"

    def get(self, dataset: "Dataset", kind: str, **params: Any) -> Index:
        """Open the cached index, or build it (atomically) when it is missing or incomplete."""
        folder = self.folder(dataset.cache_name, kind, params)
        with self._lock:
            if folder in self._open:
                return self._open[folder]
            try:
                index = Index.open(folder)
            except BadIndexError:
                index = Index.build(dataset, folder, kind=kind, overwrite=folder.exists(), **params)
                self.built.append(folder)
            self._open[folder] = index
            return index

    def any_existing(self, dataset: str) -> Index | None:
        """Some complete index of ``dataset`` already in the cache (for its docstore), or None."""
        for folder in sorted(self.root.glob(f"{dataset}-*")):
            try:
                return self._open.get(folder) or Index.open(folder)
            except BadIndexError:
                continue
        return None
