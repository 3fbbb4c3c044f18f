"""Shared test set-up: the dataset mirror beside the checkout, and a private cache per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "datasets"

# Tests that start Ray in this process must not take the JVM's SIGSEGV handler away (see scale_out/ray_runtime.py).
os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")

if not os.environ.get("REGARD_DATA") and SHARED_DATA.is_dir():
    os.environ["REGARD_DATA"] = str(SHARED_DATA)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Keep embeddings and downloads of a test session out of the user's cache, so encoding really runs."""
    previous = os.environ.get("REGARD_CACHE")
    os.environ["REGARD_CACHE"] = str(tmp_path_factory.mktemp("regard-cache"))
    yield
    if previous is None:
        os.environ.pop("REGARD_CACHE", None)
    else:
        os.environ["REGARD_CACHE"] = previous
