"""Pipelines written as text, for the command line: ``idx/bm25 % 100 >> idx/dense``, ``idx/bm25 | idx/dense``.

Operands are index folders (their retriever), TREC run files (replayed), or a reranker reading texts
from the first index of the expression: ``ce:MODEL`` (cross-encoder), ``icr:MODEL``, ``listwise:MODEL``
(full window) or ``pointwise:MODEL`` (LLM rerankers; the model defaults to SmolLM2-135M-Instruct).
Operators and precedence follow Python's: ``%`` (cutoff) binds tightest, then ``>>`` (then), then
``|`` (reciprocal-rank fusion); parentheses group. Paths must not contain spaces or the operator characters.
Unlike PyTerrier, where ``|`` is set union, ``|`` here is reciprocal-rank fusion.

An operand can carry parameters: ``NAME(key=value,...):OPERAND``. For an index folder NAME is its kind
and the parameters go to its retriever (``bm25(k1=1.2,b=0.75):indexes/x``, ``muvera(candidates=500):idx/m``);
for a reranker NAME is its prefix without the colon (``ce(batch_size=16):models/ce``,
``listwise(window=20,step=10):MODEL``). Values are numbers, ``true``/``false``, or text.
"""

from __future__ import annotations

import re
from pathlib import Path

from regard.errors import ParameterError, RegardError
from regard.kinds import Index
from regard.pipeline import Stage
from regard.retrieval.fusion import ReciprocalRankFusion
from regard.retrieval.run_file import RunFile
from regard.scale_out.options import RayOptions

CROSS_ENCODER_PREFIX = "ce:"
# Reranker operands: prefix -> (module, class, default model; None when the model must be named).
RERANKERS: dict[str, tuple[str, str, str | None]] = {
    CROSS_ENCODER_PREFIX: ("regard.rerank.cross_encoder", "CrossEncoder", None),
    "icr:": ("regard.rerank.icr", "ICR", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "listwise:": ("regard.rerank.listwise", "Listwise", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "pointwise:": ("regard.rerank.pointwise", "Pointwise", "HuggingFaceTB/SmolLM2-135M-Instruct"),
}
_TOKEN = re.compile(r"\s*(>>|\||%|[A-Za-z][\w-]*\([^()]*\):[^\s|%()>]*|\(|\)|[^\s|%()>]+)")
_WITH_PARAMETERS = re.compile(r"(?P<name>[A-Za-z][\w-]*)\((?P<parameters>[^()]*)\):(?P<target>.*)", re.S)


class PipelineSpecError(RegardError, ValueError):
    """A pipeline expression that does not parse."""


def parse_value(text: str) -> int | float | bool | str:
    """``12`` -> 12, ``0.75`` -> 0.75, ``true`` -> True; anything else is text (quotes removed)."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip("'\"")


def split_parameters(token: str) -> tuple[str | None, dict, str]:
    """``bm25(k1=1.2,b=0.75):idx`` -> ("bm25", {"k1": 1.2, "b": 0.75}, "idx"); a plain token -> (None, {}, token)."""
    match = _WITH_PARAMETERS.fullmatch(token)
    if match is None:
        return None, {}, token
    parameters = {}
    for item in filter(None, (part.strip() for part in match.group("parameters").split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip().isidentifier():
            raise PipelineSpecError(f"{token}: expected key=value parameters, got {item!r}")
        parameters[key.strip()] = parse_value(value.strip())
    return match.group("name"), parameters, match.group("target")


def tokenize(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            column = len(text) - len(text[position:].lstrip()) + 1  # the offending character, not the space before it
            raise PipelineSpecError(f"cannot read pipeline {text!r} at column {column}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


class PipelineParser:
    """Parses pipeline expressions; operands opened once are shared between expressions."""

    def __init__(self, k: int = 1000, scale_out: RayOptions | None = None, **retriever_options):
        self.k = k
        self.scale_out = scale_out  # rerankers then run on Ray workers, by batches of queries
        self.distributed: list[Stage] = []
        self.retriever_options = retriever_options
        self.indexes: dict[str, Index] = {}
        self._stages: dict[str, Stage] = {}

    def parse(self, text: str) -> Stage:
        self._tokens = tokenize(text)
        self._text = text
        if not self._tokens:
            raise PipelineSpecError("empty pipeline")
        stage = self._fusion()
        if self._tokens:
            raise PipelineSpecError(f"unexpected {self._tokens[0]!r} in pipeline {text!r}")
        return stage

    def _fusion(self) -> Stage:
        parts = [self._sequence()]
        while self._peek() == "|":
            self._tokens.pop(0)
            parts.append(self._sequence())
        return parts[0] if len(parts) == 1 else ReciprocalRankFusion(*parts)

    def _sequence(self) -> Stage:
        stage = self._operand()
        while self._peek() in (">>", "%"):
            operator = self._tokens.pop(0)
            if operator == "%":
                number = self._tokens.pop(0) if self._tokens else ""
                if not number.isdigit():
                    raise PipelineSpecError(f"'%' must be followed by a number of documents in {self._text!r}")
                if int(number) < 1:
                    raise PipelineSpecError(f"'%' cutoff must be at least 1, got {number} in {self._text!r}")
                stage = stage % int(number)
            else:
                stage = stage >> self._operand()
        return stage

    def _operand(self) -> Stage:
        if not self._tokens:
            raise PipelineSpecError(f"pipeline {self._text!r} ends where an index or run file was expected")
        token = self._tokens.pop(0)
        if token == "(":
            stage = self._fusion()
            if self._peek() != ")":
                raise PipelineSpecError(f"missing ')' in {self._text!r}")
            self._tokens.pop(0)
            return stage
        if token in (")", "|", ">>", "%"):
            raise PipelineSpecError(f"unexpected {token!r} in pipeline {self._text!r}")
        return self.open_operand(token)

    def open_operand(self, token: str) -> Stage:
        """The stage for an index folder, a run file path or a reranker, with its parameters if any."""
        if token in self._stages:
            return self._stages[token]
        name, parameters, target = split_parameters(token)
        if name is not None and f"{name}:" in RERANKERS:
            stage = self._reranker(token, f"{name}:", target, parameters)
        elif name is None and (prefix := next((p for p in RERANKERS if token.startswith(p)), None)):
            stage = self._reranker(token, prefix, token[len(prefix):], {})
        else:
            stage = self._index_or_run(token, name, parameters, Path(target))
        self._stages[token] = stage
        return stage

    def _index_or_run(self, token: str, name: str | None, parameters: dict, path: Path) -> Stage:
        if path.is_dir():
            index = Index.open(path)
            kind = index.manifest.kind
            if name is not None and name != kind:
                raise PipelineSpecError(f"{token}: {path} is a {kind!r} index; write {kind}(...):{path}")
            self.indexes[token] = index
            options = {"k": self.k, **self.retriever_options.get(kind, {}), **parameters}
            return _construct(token, lambda: index.retriever(**options))
        if path.is_file():
            if parameters:
                raise PipelineSpecError(f"{token}: a run file takes no parameters")
            return RunFile(path)
        raise PipelineSpecError(f"{path}: neither an index folder nor a run file")

    def _reranker(self, token: str, prefix: str, model: str, parameters: dict) -> Stage:
        import importlib

        if not self.indexes:
            raise PipelineSpecError(f"{token}: a reranker needs an index before it (for document texts)")
        module, class_name, default = RERANKERS[prefix]
        model = model or default
        if not model:
            raise PipelineSpecError(f"{token}: name a model after {prefix!r}")
        stage_class = getattr(importlib.import_module(module), class_name)
        index = next(iter(self.indexes.values()))
        if self.scale_out is not None:
            return self._distributed(token, stage_class, index, model, parameters)
        return _construct(token, lambda: stage_class(index, model, **parameters))

    def _distributed(self, token: str, stage_class, index: Index, model: str, parameters: dict) -> Stage:
        """The reranker as a recipe run on Ray workers (each loads the model once), checked here first."""
        import inspect

        from regard.scale_out.rerank import distributed_reranker

        _construct(token, lambda: inspect.signature(stage_class).bind(index.folder, model, **parameters))
        stage = distributed_reranker(stage_class, index.folder, model, parameters, self.scale_out)
        self.distributed.append(stage)
        return stage

    def close(self) -> None:
        """Stop the Ray workers of distributed rerankers (if any)."""
        for stage in self.distributed:
            stage.close()

    def _peek(self) -> str | None:
        return self._tokens[0] if self._tokens else None


def _construct(token: str, make) -> Stage:
    """``make()``, with a wrong or unknown parameter reported against the operand that names it."""
    try:
        return make()
    except ParameterError as err:
        raise PipelineSpecError(f"{token}: {err}") from None
    except RegardError:
        raise
    except (TypeError, ValueError) as err:
        raise PipelineSpecError(f"{token}: {err}") from None
