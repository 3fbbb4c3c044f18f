"""Fixtures that build real indexes of the shared datasets once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from regard import Index, load_dataset
from regard.datasets import locate

pytestmark = pytest.mark.integration


def _require(name: str) -> None:
    if locate(name) is None:
        pytest.fail(f"dataset {name!r} not found: set REGARD_DATA to the shared datasets folder "
                    f"(currently {os.environ.get('REGARD_DATA')!r})")


@pytest.fixture(scope="session")
def scifact():
    _require("scifact")
    return load_dataset("scifact")


@pytest.fixture(scope="session")
def indexes(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("indexes")


@pytest.fixture(scope="session")
def scifact_bm25(scifact, indexes) -> Index:
    return Index.build(scifact, indexes / "scifact-bm25", kind="bm25")


@pytest.fixture(scope="session")
def scifact_bm25s(scifact, indexes) -> Index:
    return Index.build(scifact, indexes / "scifact-bm25s", kind="bm25", backend="bm25s")


@pytest.fixture(scope="session")
def scifact_dense(scifact, indexes) -> Index:
    return Index.build(scifact, indexes / "scifact-dense", kind="dense")
