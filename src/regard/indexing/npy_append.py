"""A one-dimensional ``.npy`` file written by appending, for arrays whose length is known only at the end."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

# np.save pads the header to a multiple of 64 bytes; for any 1-D shape of a plain dtype it fits in 128,
# so the data starts at 128 and the header is written over the reserved bytes once the length is known.
_HEADER = 128


class NpyAppender:
    """Append 1-D chunks of one dtype to ``path``; on close the file is a valid ``.npy`` (``np.load``
    reads and memory-maps it). Nothing but the current chunk is held in memory."""

    def __init__(self, path: str | Path, dtype):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.length = 0
        self._file = open(self.path, "wb")
        self._file.write(b"\0" * _HEADER)

    def append(self, values: np.ndarray) -> None:
        """Write ``values`` (cast to the file's dtype) after what is there."""
        np.ascontiguousarray(values, dtype=self.dtype).tofile(self._file)
        self.length += len(values)

    def close(self) -> None:
        """Write the header; the file is complete."""
        if self._file.closed:
            return
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (self.length,)})
        if header.tell() != _HEADER:
            raise AssertionError(f"unexpected .npy header size {header.tell()}")
        self._file.seek(0)
        self._file.write(header.getvalue())
        self._file.close()

    def __enter__(self) -> "NpyAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
