"""Content fingerprints of input files, remembered by (path, size, mtime) so a file is hashed once per change."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

_MEMO: dict[str, str] = {}
_BLOCK = 1 << 20


def _stat_key(path: Path) -> str:
    stat = path.stat()
    text = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def file_digest(path: str | Path, memo_dir: Path | None = None) -> str:
    """SHA-256 of the file's bytes; reused while its path, size, modification time and inode are unchanged.

    ``memo_dir`` keeps the digests between processes (one small file per stat key, written atomically).
    """
    path = Path(path)
    key = _stat_key(path)
    if key in _MEMO:
        return _MEMO[key]
    remembered = memo_dir / key if memo_dir is not None else None
    if remembered is not None and remembered.is_file():
        digest = remembered.read_text(encoding="ascii").strip()
        if len(digest) == 64:
            _MEMO[key] = digest
            return digest
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            sha.update(block)
    digest = _MEMO[key] = sha.hexdigest()
    if remembered is not None:
        remembered.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{key}.", dir=remembered.parent)
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(digest)
        os.replace(temporary, remembered)
    return digest


def files_fingerprint(paths: Iterable[str | Path], memo_dir: Path | None = None) -> str:
    """One SHA-256 over the names and contents of ``paths`` (in the order given)."""
    sha = hashlib.sha256()
    for path in paths:
        path = Path(path)
        sha.update(f"{path.name}\0{file_digest(path, memo_dir)}\0".encode())
    return sha.hexdigest()
