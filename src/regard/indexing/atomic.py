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
    """Yield a staging folder; on success, replace ``target`` with it in one rename.

    The staging folder survives an interrupted build so stages may resume from what it holds; a
    failed build (an exception) removes it. ``target`` is untouched until the final rename.
    """
    target = Path(target).absolute()
    if target.exists() and not overwrite:
        raise RegardError(f"{target} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(target)
    staging.mkdir(exist_ok=True)
    try:
        yield staging
    except KeyboardInterrupt:
        raise  # keep the staging folder: the next build resumes from it
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
