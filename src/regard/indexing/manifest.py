"""The index manifest: what an index holds and how it was built."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from regard.errors import BadIndexError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass
class Manifest:
    """Contents of ``manifest.json``, written last so a readable manifest means a complete index."""

    kind: str
    backend: str
    document_count: int
    corpus_fingerprint: str
    corpus_source: str
    parameters: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    model_revision: str | None = None
    skipped_empty_documents: int = 0
    build_seconds: float = 0.0
    built_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    built_on: str = field(default_factory=platform.platform)
    regard_version: str = ""
    format_version: int = FORMAT_VERSION

    def write(self, folder: Path) -> None:
        """Write the manifest into ``folder``."""
        (folder / MANIFEST_NAME).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: str | Path) -> "Manifest":
        """Read ``folder/manifest.json``; raises BadIndexError when absent or unreadable."""
        path = Path(folder) / MANIFEST_NAME
        if not path.exists():
            raise BadIndexError(f"{folder}: not a regard index (no {MANIFEST_NAME})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadIndexError(f"{path}: unreadable manifest ({err})") from None
        if not isinstance(data, dict):
            raise BadIndexError(f"{path}: manifest is not a JSON object")
        if data.get("format_version") != FORMAT_VERSION:
            raise BadIndexError(f"{path}: index format {data.get('format_version')} is not {FORMAT_VERSION}; rebuild it")
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as err:
            raise BadIndexError(f"{path}: incomplete manifest ({err})") from None
