"""Pipelines written as text, for the command line: ``idx/bm25 % 100 >> idx/dense``, ``idx/bm25 | idx/dense``.

Operands are index folders (their retriever), TREC run files (replayed), or a reranker reading texts
from the first index of the expression: ``ce:MODEL`` (cross-encoder), ``icr:MODEL``, ``listwise:MODEL``
(full window) or ``pointwise:MODEL`` (LLM rerankers; the model defaults to SmolLM2-135M-Instruct).
Operators and precedence follow Python's: ``%`` (cutoff) binds tightest, then ``>>`` (then), then
``|`` (reciprocal-rank fusion); parentheses group. Paths must not contain spaces or the operator characters.
"""

from __future__ import annotations

import re
from pathlib import Path

from regard.errors import RegardError
from regard.indexing.index import Index
from regard.pipeline import Stage
from regard.retrieval.fusion import ReciprocalRankFusion
from regard.retrieval.run_file import RunFile

CROSS_ENCODER_PREFIX = "ce:"
# Reranker operands: prefix -> (module, class, default model; None when the model must be named).
RERANKERS: dict[str, tuple[str, str, str | None]] = {
    CROSS_ENCODER_PREFIX: ("regard.rerank.cross_encoder", "CrossEncoder", None),
    "icr:": ("regard.rerank.icr", "ICR", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "listwise:": ("regard.rerank.listwise", "Listwise", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "pointwise:": ("regard.rerank.pointwise", "Pointwise", "HuggingFaceTB/SmolLM2-135M-Instruct"),
}
_TOKEN = re.compile(r"\s*(>>|\||%|\(|\)|[^\s|%()>]+)")


class PipelineSpecError(RegardError, ValueError):
    """A pipeline expression that does not parse."""


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

    def __init__(self, k: int = 1000, **retriever_options):
        self.k = k
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
        """The stage for an index folder or a run file path."""
        if token in self._stages:
            return self._stages[token]
        prefix = next((p for p in RERANKERS if token.startswith(p)), None)
        if prefix:
            return self._reranker(token, prefix)
        path = Path(token)
        if path.is_dir():
            index = Index.open(path)
            self.indexes[token] = index
            stage = index.retriever(k=self.k, **self.retriever_options.get(index.manifest.kind, {}))
        elif path.is_file():
            stage = RunFile(path)
        else:
            raise PipelineSpecError(f"{token}: neither an index folder nor a run file")
        self._stages[token] = stage
        return stage

    def _reranker(self, token: str, prefix: str) -> Stage:
        import importlib

        if not self.indexes:
            raise PipelineSpecError(f"{token}: a reranker needs an index before it (for document texts)")
        module, class_name, default = RERANKERS[prefix]
        model = token[len(prefix):] or default
        if not model:
            raise PipelineSpecError(f"{token}: name a model after {prefix!r}")
        stage_class = getattr(importlib.import_module(module), class_name)
        stage = stage_class(next(iter(self.indexes.values())), model)
        self._stages[token] = stage
        return stage

    def _peek(self) -> str | None:
        return self._tokens[0] if self._tokens else None
