"""A ``.npy`` matrix filled row by row in any order, without holding it in memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class NpyRowWriter:
    """Preallocates ``path`` as a ``rows x columns`` ``.npy`` file and writes blocks of rows into it.

    Rows are written with ``os.pwrite`` at their offsets, so memory holds one block at a time and the
    file can be memory-mapped (``np.load(mmap_mode="r")``) once closed.
    """

    def __init__(self, path: Path, rows: int, columns: int, dtype=np.float32):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        created = np.lib.format.open_memmap(self.path, mode="w+", dtype=self.dtype, shape=(rows, columns))
        self.header = created.offset
        del created
        self.row_bytes = columns * self.dtype.itemsize
        self._handle = os.open(self.path, os.O_RDWR)

    def write(self, positions: np.ndarray, block: np.ndarray) -> None:
        """Put ``block[i]`` at row ``positions[i]``; runs of consecutive rows go in one write."""
        positions = np.asarray(positions, dtype=np.int64)
        order = np.argsort(positions, kind="stable")
        positions, block = positions[order], np.ascontiguousarray(block[order], dtype=self.dtype)
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        for start, stop in zip(np.r_[0, breaks], np.r_[breaks, len(positions)]):
            os.pwrite(self._handle, block[start:stop].tobytes(), self.header + int(positions[start]) * self.row_bytes)

    def close(self) -> None:
        os.fsync(self._handle)
        os.close(self._handle)
