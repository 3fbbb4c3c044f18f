"""Build a directory beside its target and rename it into place only when complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from regard.errors import RegardError


def staging_dir(target: Path) -> Path:
    """The work folder of a build of ``target``: beside it, hidden, the same for every attempt."""
    return target.parent / f".{target.name}.partial"


@contextmanager
def atomic_directory(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success, replace ``target`` with it in one rename.

    ``target`` is untouched until that rename. A failed build removes the staging folder; one left by
    a killed process is cleared at the next attempt. (Work worth resuming, such as encoded shards,
    lives in the embedding cache, not here.)
    """
    target = Path(target).absolute()
    if target.exists() and not overwrite:
        raise RegardError(f"{target} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(target)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        retired = target.parent / f".{target.name}.old"
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)
