"""Line-by-line reading that reports undecodable bytes with the file and line."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from regard.errors import InputFormatError


def open_binary(path: Path):
    """Open a file for binary reading, transparently un-gzipping ``.gz`` files."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line, 1-based, without the line break.

    Raises InputFormatError naming the line when it is not valid UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise InputFormatError(path, "file not found")
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputFormatError(
                    path, f"not valid UTF-8 (byte {err.start}: {raw[err.start:err.start + 1]!r})", line=number
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark is not content
            yield number, text.rstrip("\r\n")
