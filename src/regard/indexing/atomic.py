"""Build a directory beside its target and rename it into place only when complete.

Each build stages into its own hidden folder beside the target (``.NAME.partial-PID-RANDOM``) while it
holds the target's inter-process lock (``regard/locks.py``), so two builders of one target never
touch each other's work: the second waits for the first. Staging folders left by killed builders are
removed by the next build of the same target, which holds the lock, so no live builder owns them.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from regard.errors import RegardError
from regard.locks import target_lock
from regard.indexing.manifest import MANIFEST_NAME

_STAGING_MARK = ".partial"


def staging_prefix(target: Path) -> str:
    """How the names of ``target``'s staging folders begin: ``.NAME.partial``."""
    return f".{target.name}{_STAGING_MARK}"


def staging_dirs(target: str | Path) -> list[Path]:
    """The staging folders of ``target`` that exist now (of live builds or of killed ones)."""
    target = Path(target).absolute()
    if not target.parent.is_dir():
        return []
    prefix = staging_prefix(target)
    return sorted(p for p in target.parent.iterdir()
                  if p.is_dir() and (p.name == prefix or p.name.startswith(prefix + "-")))


def _retired(target: Path) -> Path:
    return target.parent / f".{target.name}.old"


def is_regard_index(folder: Path) -> bool:
    """Whether ``folder`` holds a readable regard manifest (what ``--overwrite`` may replace)."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "kind" in data and "format_version" in data


def _check_replaceable(target: Path, overwrite: bool) -> None:
    if not overwrite:
        raise RegardError(f"{target} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if not target.is_dir() or target.is_symlink():
        raise RegardError(f"{target} is not a folder; refusing to replace it (nothing was changed)")
    if any(target.iterdir()) and not is_regard_index(target):
        raise RegardError(f"{target} is not a regard index (no readable {MANIFEST_NAME}); overwrite replaces "
                          f"only regard indexes, so nothing was deleted. Choose another --out folder.")


def _recover_and_clean(target: Path) -> None:
    """Under the lock: restore an index retired by a build killed mid-swap, remove dead builds' staging."""
    retired = _retired(target)
    if retired.is_dir() and not target.exists() and is_regard_index(retired):
        os.replace(retired, target)
    for stale in staging_dirs(target):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _move_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the replaced index
    else:
        retired = _retired(target)
        os.replace(target, retired)  # a kill between these two renames is recovered by the next build
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def atomic_directory(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success, replace ``target`` with it in one rename.

    ``target`` is untouched until that rename. An existing ``target`` is replaced only with
    ``overwrite`` and only when it is a regard index (or an empty folder); anything else raises
    RegardError and nothing is deleted. A second build of the same target waits for the first. A
    failed build removes its staging folder. (Work worth resuming, such as encoded shards, lives in
    the embedding cache, not here.)
    """
    target = Path(target).absolute()
    if target.exists():
        _check_replaceable(target, overwrite)  # fail fast, before waiting for another build
    target.parent.mkdir(parents=True, exist_ok=True)
    with target_lock(target, announce=f"waiting for another build of {target} to finish"):
        _recover_and_clean(target)
        if target.exists():
            _check_replaceable(target, overwrite)
        staging = target.parent / f"{staging_prefix(target)}-{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _move_into_place(staging, target)
