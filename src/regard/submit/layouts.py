"""Where the package's layout differs from what a leaderboard takes: one small adapter per target.

``regard`` writes the package folder as built (``metadata.json`` + ``runs/DATASET.trec``).
``beir-leaderboard`` writes one zip with a run file per BEIR dataset id (``scifact.run``) and the
metadata under the leaderboard's field names. The leaderboard's exact upload format could not be
checked from here (no network); if it differs, only :class:`BeirLeaderboardLayout` changes.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Protocol

from regard.errors import RegardError


class Layout(Protocol):
    def write(self, package: Path, out: Path, overwrite: bool = False) -> Path: ...


def _clear(out: Path, overwrite: bool) -> None:
    if out.exists():
        if not overwrite:
            raise RegardError(f"{out} exists; pass --overwrite to replace it")
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)


class RegardLayout:
    """The package folder as regard builds and validates it."""

    def write(self, package: Path, out: Path, overwrite: bool = False) -> Path:
        _clear(out, overwrite)
        shutil.copytree(package, out)
        return out


class BeirLeaderboardLayout:
    """A zip: ``DATASET.run`` per BEIR dataset id and ``metadata.json`` with the leaderboard's field names."""

    FIELDS = {"model": "model_name", "description": "description", "links": "links",
              "hardware": "hardware", "latency_seconds_per_query": "latency", "parameters": "parameters"}

    def write(self, package: Path, out: Path, overwrite: bool = False) -> Path:
        out = out if out.suffix == ".zip" else out.with_suffix(".zip")
        _clear(out, overwrite)
        metadata = json.loads((package / "metadata.json").read_text())
        converted = {target: metadata.get(source) for source, target in self.FIELDS.items()}
        converted["results"] = {name: entry["metrics"] for name, entry in metadata["datasets"].items()}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, entry in sorted(metadata["datasets"].items()):
                archive.write(package / entry["run_file"], f"{name}.run")
            archive.writestr("metadata.json", json.dumps(converted, indent=2, sort_keys=True) + "\n")
        return out


LAYOUTS: dict[str, Layout] = {"regard": RegardLayout(), "beir-leaderboard": BeirLeaderboardLayout()}
