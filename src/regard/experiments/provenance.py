"""What is recorded beside every result: config and its hash, package versions, models, seeds, hardware."""

from __future__ import annotations

import os
import platform
import random
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("regard", "torch", "transformers", "sentence-transformers", "faiss-cpu", "pyserini", "bm25s",
            "ir-measures", "pytrec-eval-terrier", "numpy", "scipy")


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's generators."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape results (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The ``model name`` line of /proc/cpuinfo (falls back to platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def hardware() -> dict[str, Any]:
    """The machine: CPU model and cores, memory, GPU (if any), native bfloat16."""
    from regard.models import cpu_has_fast_bf16

    memory = None
    try:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover
        pass
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "memory_gib": memory, "gpu": gpu,
            "cpu_bf16": cpu_has_fast_bf16(), "platform": platform.platform(), "python": platform.python_version()}


def provenance(config, dataset: str, split: str, records: list[dict[str, Any]], device: str | None,
               cache: dict[str, Any]) -> dict[str, Any]:
    """The provenance record of one config run on one dataset."""
    return {
        "config": {"name": config.name, "path": config.path, "hash": config.hash, "text": config.text},
        "dataset": dataset, "split": split, "seed": config.seed, "device": device or "auto",
        "models": [r for r in records if "model" in r], "indexes": [r for r in records if "index" in r],
        "packages": package_versions(), "hardware": hardware(), "cache": cache,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
