"""What an index kind declares: its typed build and search parameters, how it builds, which stage reads it.

The parameters are read from the signatures of the kind's builder and retrieval stage (names,
defaults, types), so the functions stay the one place their defaults live; a declaration adds help
texts, choices and command-line flags. ``Index.build``, ``Index.retriever``, the ``regard index``
options and config validation all go through :meth:`IndexKind.check_build` and
:meth:`IndexKind.check_search`, so a misspelt parameter is refused before anything is built.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from regard.errors import ParameterError
from regard.indexing.builders import BuildResult
from regard.indexing.docstore import DocStore

_SCALARS = (bool, int, float, str)
# Positional arguments every builder takes before its parameters: staging folder, docstore, fingerprint.
_BUILDER_POSITIONALS = 3


@dataclass(frozen=True)
class Param:
    """One typed parameter: ``kind`` is bool, int, float or str (``object`` for Python-only values)."""

    name: str
    kind: type
    default: Any
    optional: bool = False
    help: str = ""
    choices: tuple[str, ...] | None = None
    flag: str | None = None

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: Any, owner: str) -> Any:
        """``value`` if it fits this parameter (ints are accepted for floats), else a ParameterError."""
        if value is None and (self.optional or self.default is None):
            return None
        if self.kind is object:
            return value
        fits = (isinstance(value, bool) if self.kind is bool
                else isinstance(value, (int, float)) and not isinstance(value, bool) if self.kind is float
                else isinstance(value, int) and not isinstance(value, bool) if self.kind is int
                else isinstance(value, self.kind))
        if not fits:
            expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[self.kind]
            raise ParameterError(self.name, f"{owner} parameter {self.name!r} must be {expected}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(self.name, f"{owner} parameter {self.name!r} must be one of "
                                            f"{', '.join(self.choices)}; got {value!r}")
        return float(value) if self.kind is float else value


def _unwrap(hint: Any) -> tuple[type, bool]:
    """(scalar type or object, whether None is allowed) of a type hint."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        base = members[0] if len(members) == 1 else object
        return (base if base in _SCALARS else object), len(members) < len(typing.get_args(hint))
    return (hint if hint in _SCALARS else object), False


def parameters_of(function: Callable, skip: int, help: Mapping[str, str], choices: Mapping[str, tuple[str, ...]],
                  flags: Mapping[str, str], leave_out: Iterable[str] = ()) -> tuple[Param, ...]:
    """The keyword parameters of ``function`` after its first ``skip`` ones, as typed Params."""
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError):  # a hint naming a type imported only for checkers: judge by defaults
        hints = {}
    found = []
    for parameter in list(inspect.signature(function).parameters.values())[skip:]:
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL) or parameter.name in leave_out:
            continue
        default = None if parameter.default is parameter.empty else parameter.default
        kind, optional = _unwrap(hints.get(parameter.name, type(default) if default is not None else object))
        found.append(Param(parameter.name, kind, default, optional, help.get(parameter.name, ""),
                           choices.get(parameter.name), flags.get(parameter.name)))
    return tuple(found)


def check_values(declared: Iterable[Param], values: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """``values`` checked against ``declared``: unknown names (with a suggestion), types and choices."""
    by_name = {p.name: p for p in declared}
    checked = {}
    for name, value in values.items():
        if name not in by_name:
            close = difflib.get_close_matches(name, by_name, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(name, f"unknown {owner} parameter {name!r}{hint} "
                                       f"(expected one of: {', '.join(by_name) or 'none'})")
        checked[name] = by_name[name].check(value, owner)
    return checked


@dataclass(frozen=True)
class IndexKind:
    """One index kind: its name, builder (``indexing/``) and retrieval stage (``retrieval/``, imported lazily).

    ``builder(staging, docstore, fingerprint, **build parameters) -> BuildResult`` writes the payload;
    ``retriever`` ("module:Class") is constructed as ``Class(index, k=k, **search parameters)``.
    ``also_builds_with`` adds another builder's parameters (a kind that forwards them, e.g. chunked
    indexes to the dense builder).
    """

    name: str
    summary: str
    builder: Callable[..., BuildResult]
    retriever: str
    help: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    flags: Mapping[str, str] = field(default_factory=dict)
    also_builds_with: Callable[..., BuildResult] | None = None

    @cached_property
    def build_parameters(self) -> tuple[Param, ...]:
        own = parameters_of(self.builder, _BUILDER_POSITIONALS, self.help, self.choices, self.flags)
        if self.also_builds_with is None:
            return own
        forwarded = parameters_of(self.also_builds_with, _BUILDER_POSITIONALS, self.help, self.choices, self.flags,
                                  leave_out={p.name for p in own})
        return own + forwarded

    @cached_property
    def retriever_class(self) -> type:
        module, name = self.retriever.split(":")
        return getattr(importlib.import_module(module), name)

    @cached_property
    def search_parameters(self) -> tuple[Param, ...]:
        # After (self, index); k is the retriever's depth, set by Index.retriever itself.
        return parameters_of(self.retriever_class.__init__, 2, self.help, self.choices, self.flags, leave_out={"k"})

    def check_build(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Build parameters checked by name, type and choice (ParameterError names the one at fault)."""
        return check_values(self.build_parameters, values, f"{self.name} index")

    def check_search(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Retriever options checked the same way."""
        return check_values(self.search_parameters, values, f"{self.name} retriever")

    def build(self, staging: Path, docs: DocStore, fingerprint: str, **values: Any) -> BuildResult:
        return self.builder(staging, docs, fingerprint, **self.check_build(values))

    def open_retriever(self, index, k: int, **options: Any):
        return self.retriever_class(index, k=k, **self.check_search(options))
