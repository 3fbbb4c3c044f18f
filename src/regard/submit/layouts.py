"""Where the package's layout differs from what a leaderboard takes: one small adapter per target.

``regard`` writes the package folder as built (``metadata.json`` + ``runs/DATASET.trec``).
``beir-leaderboard`` writes one zip with a run file per BEIR dataset id (``scifact.run``) and the
metadata under the leaderboard's field names. The leaderboard's exact upload format could not be
checked from here (no network); if it differs, only :class:`BeirLeaderboardLayout` changes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Protocol

from regard.errors import RegardError


class Layout(Protocol):
    def write(self, package: Path, out: Path, overwrite: bool = False) -> Path: ...


def _is_regard_package(folder: Path) -> bool:
    """Whether ``folder`` holds a package regard wrote (its ``metadata.json`` names regard's format)."""
    from regard.submit.package import FORMAT, METADATA_NAME

    try:
        metadata = json.loads((folder / METADATA_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and metadata.get("format") == FORMAT


def _is_leaderboard_zip(path: Path) -> bool:
    """Whether ``path`` is a zip this layout wrote (``metadata.json`` with the leaderboard's ``results``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False
    return isinstance(metadata, dict) and "results" in metadata and "model_name" in metadata


def _check_replaceable(out: Path, overwrite: bool, ours: bool) -> None:
    """``out`` may be replaced only with ``overwrite`` and only when regard wrote it (or it is an empty folder)."""
    if not out.exists() and not out.is_symlink():
        out.parent.mkdir(parents=True, exist_ok=True)
        return
    if not overwrite:
        raise RegardError(f"{out} exists; pass --overwrite to replace it")
    empty_folder = out.is_dir() and not out.is_symlink() and not any(out.iterdir())
    if not (ours or empty_folder):
        raise RegardError(f"{out} was not written by regard submit; --overwrite replaces only a package regard "
                          "wrote, so nothing was deleted. Choose another --out.")


def _partial(out: Path) -> Path:
    """A fresh temporary name beside ``out`` (same file system, so the final rename is atomic)."""
    return out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"


class RegardLayout:
    """The package folder as regard builds and validates it."""

    def write(self, package: Path, out: Path, overwrite: bool = False) -> Path:
        _check_replaceable(out, overwrite, _is_regard_package(out))
        staging = _partial(out)
        shutil.copytree(package, staging)
        if out.exists():
            retired = _partial(out)
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired)
        else:
            os.replace(staging, out)
        return out


class BeirLeaderboardLayout:
    """A zip: ``DATASET.run`` per BEIR dataset id and ``metadata.json`` with the leaderboard's field names."""

    FIELDS = {"model": "model_name", "description": "description", "links": "links",
              "hardware": "hardware", "latency_seconds_per_query": "latency", "parameters": "parameters"}

    def write(self, package: Path, out: Path, overwrite: bool = False) -> Path:
        out = out if out.suffix == ".zip" else out.with_suffix(".zip")
        _check_replaceable(out, overwrite, out.is_file() and _is_leaderboard_zip(out))
        metadata = json.loads((package / "metadata.json").read_text())
        converted = {target: metadata.get(source) for source, target in self.FIELDS.items()}
        converted["results"] = {name: entry["metrics"] for name, entry in metadata["datasets"].items()}
        partial = _partial(out)
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, entry in sorted(metadata["datasets"].items()):
                    archive.write(package / entry["run_file"], f"{name}.run")
                archive.writestr("metadata.json", json.dumps(converted, indent=2, sort_keys=True) + "\n")
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        return out


LAYOUTS: dict[str, Layout] = {"regard": RegardLayout(), "beir-leaderboard": BeirLeaderboardLayout()}
