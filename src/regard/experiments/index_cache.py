"""Indexes built into a cache folder keyed by dataset content and index parameters, and reused."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regard.errors import BadIndexError
from regard.experiments.identity import model_revisions
from regard.kinds import Index
from regard.locks import target_lock

if TYPE_CHECKING:
    from regard.datasets import Dataset

# Parameters that change how fast an index is built, not what it holds.
_SPEED_ONLY = {"device", "batch_size", "use_cache"}


def params_key(dataset: str, kind: str, params: dict[str, Any], corpus: str = "") -> str:
    """A short stable hash of what determines an index's contents.

    ``corpus`` is the content fingerprint of the dataset's corpus files; model names count with the
    revision they resolve to.
    """
    relevant = {k: v for k, v in sorted(params.items()) if k not in _SPEED_ONLY}
    text = json.dumps({"dataset": dataset, "kind": kind, "params": relevant, "corpus": corpus,
                       "models": model_revisions(relevant)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class IndexCache:
    """Builds each (dataset content, kind, parameters) index once under ``root`` and opens it afterwards.

    Folders are ``ROOT/DATASET-CORPUS-KIND-HASH``: CORPUS is the first 8 hex digits of the corpus
    files' content fingerprint, so an edited mirror gets new indexes instead of stale ones. Builds of
    one folder are serialised between processes: a second process waits, then opens the finished index.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._open: dict[Path, Index] = {}
        self._lock = threading.Lock()
        self._fingerprints: dict[str, str] = {}
        self.built: list[Path] = []  # folders built (not reused) by this cache object

    def corpus_fingerprint(self, dataset: "Dataset") -> str:
        """The content fingerprint of ``dataset``'s corpus files (computed once per cache object)."""
        from regard.datasets import corpus_fingerprint

        if dataset.cache_name not in self._fingerprints:
            self._fingerprints[dataset.cache_name] = corpus_fingerprint(dataset)
        return self._fingerprints[dataset.cache_name]

    def folder(self, dataset: "Dataset", kind: str, params: dict[str, Any]) -> Path:
        """Where the index of these parameters lives: ``ROOT/DATASET-CORPUS-KIND-HASH``."""
        corpus = self.corpus_fingerprint(dataset)
        name = dataset.cache_name
        return self.root / f"{name}-{corpus[:8]}-{kind}-{params_key(name, kind, params, corpus)}"

    def get(self, dataset: "Dataset", kind: str, **params: Any) -> Index:
        """Open the cached index, or build it (atomically) when it is missing or incomplete."""
        folder = self.folder(dataset, kind, params)
        with self._lock:
            if folder in self._open:
                return self._open[folder]
            with target_lock(folder, announce=f"waiting for another process building {folder}"):
                try:
                    index = Index.open(folder)
                except BadIndexError:
                    index = Index.build(dataset, folder, kind=kind, overwrite=folder.exists(), **params)
                    self.built.append(folder)
            self._open[folder] = index
            return index

    def any_existing(self, dataset: "Dataset") -> Index | None:
        """Some complete index of ``dataset``'s current corpus already in the cache (for its docstore), or None."""
        prefix = f"{dataset.cache_name}-{self.corpus_fingerprint(dataset)[:8]}-"
        for folder in sorted(self.root.glob(f"{prefix}*")):
            try:
                return self._open.get(folder) or Index.open(folder)
            except BadIndexError:
                continue
        return None
