"""Shared fixture for the unit tests: tiny input files written into pytest's tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import write_file


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(name, content)``: write a file under tmp_path (see helpers.write_file) and return its path."""
    return lambda name, content, dedent=True: write_file(tmp_path / name, content, dedent=dedent)
