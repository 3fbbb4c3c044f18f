"""What the benchmark scripts share: where results go, the shared datasets, writing a report's two files."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
WORK_DIR = REPO_ROOT / "benchmarks" / ".work"


def use_shared_datasets() -> None:
    """Point REGARD_DATA at ``../shared/datasets`` (beside the checkout) when it is unset and exists."""
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if not os.environ.get("REGARD_DATA") and shared.is_dir():
        os.environ["REGARD_DATA"] = str(shared)


def open_or_build(dataset, kind: str, **params):
    """The ``kind`` index of ``dataset`` kept in benchmarks/.work, built on first use."""
    from regard import Index

    folder = WORK_DIR / f"{dataset.name}-{kind}"
    return Index.open(folder) if folder.exists() else Index.build(dataset, folder, kind=kind, **params)


def write_report(out: str | Path, report: dict, text: str) -> None:
    """``out``.json (every number) and ``out``.md (the table), each written atomically, and the table on stdout."""
    from regard.data.atomic_file import write_text_atomic

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    write_text_atomic(out.with_suffix(".md"), text)
    print(text)
