"""Pipeline configs: a YAML file that names stages by type and gives their parameters.

::

    name: bm25-ce                      # label in tables (default: the file name)
    description: BM25 top 100 reranked by a cross-encoder
    seed: 0                            # seeds python, numpy and torch before the run
    pipeline:                          # a list is a sequence of stages
      - bm25: {backend: lucene}
      - cutoff: 100                    # a scalar fills the stage's shorthand parameter
      - cross-encoder: {model: models/scifact-ce}

A node is a one-key mapping ``{TYPE: PARAMS}`` or a list of nodes (applied in order). Fusions take
their inputs as nodes: ``rrf: {of: [{bm25: {}}, {dense: {}}]}``. Stage types come from
:mod:`regard.experiments.stages`. Every error names the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from regard.experiments.stages import ConfigError, Where

TOP_LEVEL = {"name", "description", "seed", "pipeline"}


class _Mapping(dict):
    """A YAML mapping that remembers the line of each key."""

    lines: dict[str, int]


class _List(list):
    """A YAML sequence that remembers the line of each item."""

    lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists carry line numbers; duplicate keys are errors."""

    path = "<config>"


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _Mapping:
    result = _Mapping()
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise ConfigError(loader.path, f"keys must be text, got {key!r}", line=line)
        if key in result:
            raise ConfigError(loader.path, f"duplicate key '{key}' (first on line {result.lines[key]})", line=line,
                              field=key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = line
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> _List:
    result = _List(loader.construct_object(child, deep=True) for child in node.value)
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def plain(value: Any) -> Any:
    """The config value as plain dicts and lists (for hashing and JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def stable_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (sorted keys)."""
    return hashlib.sha256(json.dumps(plain(value), sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class PipelineConfig:
    """A parsed config file."""

    name: str
    pipeline: Any  # the root node, with line information
    path: str
    text: str
    description: str = ""
    seed: int = 0

    @property
    def hash(self) -> str:
        """What determines the results: the pipeline nodes and the seed (not the name or description)."""
        return stable_hash({"pipeline": self.pipeline, "seed": self.seed})

    @property
    def where(self) -> Where:
        lines = getattr(self, "_lines", {})
        return Where(self.path, lines.get("pipeline"), "pipeline")


def parse_config(text: str, path: str = "<config>", default_name: str = "pipeline") -> PipelineConfig:
    """Parse config ``text``; raises ConfigError naming ``path``, the line and the field."""
    loader_class = type("_PathLoader", (_Loader,), {"path": path})
    try:
        data = yaml.load(text, Loader=loader_class)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise ConfigError(path, f"not valid YAML: {err.problem or err.context}",
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError(path, "a config is a mapping with at least a 'pipeline' key")
    lines = getattr(data, "lines", {})
    for key in data:
        if key not in TOP_LEVEL:
            raise ConfigError(path, f"unknown key '{key}'; expected {', '.join(sorted(TOP_LEVEL))}",
                              line=lines.get(key), field=key)
    if "pipeline" not in data:
        raise ConfigError(path, "missing 'pipeline'", field="pipeline")
    checks = {"name": str, "description": str, "seed": int}
    for key, kind in checks.items():
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise ConfigError(path, f"expected {kind.__name__}, got {data[key]!r}", line=lines.get(key), field=key)
    config = PipelineConfig(
        name=data.get("name", default_name), pipeline=data["pipeline"], path=path, text=text,
        description=data.get("description", ""), seed=data.get("seed", 0),
    )
    config._lines = lines  # type: ignore[attr-defined]
    return config


def load_config(path: str | Path) -> PipelineConfig:
    """Read and parse a config file (the name defaults to the file name without extension)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "no such config file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(path, f"not UTF-8 text ({err.reason})") from None
    return parse_config(text, str(path), default_name=path.stem)
