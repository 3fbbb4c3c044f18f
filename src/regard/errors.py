"""Errors regard raises on bad input, each naming where the problem is."""

from __future__ import annotations

from pathlib import Path


class RegardError(Exception):
    """Base class of every error regard raises on purpose."""


class InputFormatError(RegardError, ValueError):
    """A record in an input file is malformed.

    The message names the file, the 1-based line (when the format has lines) and the field.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{line}"
        if field is not None:
            where += f" (field '{field}')"
        super().__init__(f"{where}: {message}")


class UnknownDatasetError(RegardError, KeyError):
    """A dataset name that regard does not know."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0])


class BadIndexError(RegardError):
    """An index directory is missing, incomplete, or of an unexpected kind."""


class ParameterError(RegardError, ValueError):
    """A parameter of an index kind or a retriever that is unknown, of the wrong type or out of range.

    ``parameter`` names it, so a config can point at the line that sets it.
    """

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(message)


class ModelUnavailableError(RegardError, OSError):
    """A model named by its hub name is neither local nor cached, and the hub cannot provide it."""


class MissingExtraError(RegardError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str):
        super().__init__(f"{purpose} needs the '{module}' package: pip install 'regard[{extra}]'")
