"""Stages and their composition.

Every stage has one signature, ``stage(queries, run=None) -> Run``: a retriever ignores ``run`` and
makes one; a reranker reorders the run it is given. Pipelines are values built with operators::

    bm25 % 100 >> reranker      # top 100 of BM25, reranked
    bm25 | dense                # reciprocal-rank fusion
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Union

from regard.data.query_terms import split_searchable
from regard.data.types import Query, Run

QueriesLike = Union[str, Query, Iterable[Query], Mapping[str, str]]


def as_queries(queries: QueriesLike) -> list[Query]:
    """Normalise a query text, a Query, a list of Queries or a {qid: text} mapping to a list."""
    if isinstance(queries, str):
        return [Query(id="0", text=queries)]
    if isinstance(queries, Query):
        return [queries]
    if isinstance(queries, Mapping):
        return [Query(id=str(qid), text=text) for qid, text in queries.items()]
    result = list(queries)
    for item in result:
        if not isinstance(item, Query):
            raise TypeError(f"expected Query objects, got {type(item).__name__}")
    return result


class Stage:
    """Base class of all retrieval and reranking stages."""

    #: A short label for tables and run-file tags; subclasses set it from their parameters.
    name: str = "stage"

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        """Produce a run for ``queries``; rerankers reorder ``run``."""
        raise NotImplementedError

    def __call__(self, queries: QueriesLike, run: Run | None = None) -> Run:
        return self.transform(as_queries(queries), run)

    def search(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Run the stage on one query text and return its top ``k`` (docid, score) pairs."""
        run = self.transform([Query(id="0", text=text)], None)
        return run.get("0", [])[:k]

    def __rshift__(self, other: "Stage") -> "Stage":
        return Sequence(self, other)

    def __mod__(self, k: int) -> "Stage":
        return Sequence(self, Cutoff(k))

    def __or__(self, other: "Stage") -> "Stage":
        from regard.retrieval.fusion import ReciprocalRankFusion

        return ReciprocalRankFusion(self, other)

    def __repr__(self) -> str:
        return self.name


class Retriever(Stage):
    """A stage that ranks documents of an index for each query (or rescores an incoming run's).

    Every retriever treats a query without search terms (empty, punctuation or English stopwords
    only) the same way: an empty ranking, and a warning naming the query. Subclasses implement
    :meth:`retrieve_run` for the other queries.
    """

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        searchable, blank = split_searchable(queries, self.name)
        if not blank:
            return self.retrieve_run(queries, run) if queries else Run()
        found = self.retrieve_run(searchable, run) if searchable else Run()
        return Run({**dict(found.items()), **{qid: [] for qid in blank}})

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        """The run for ``queries``, each of which has search terms."""
        raise NotImplementedError


class Sequence(Stage):
    """Stages applied one after another, each reading the previous stage's run."""

    def __init__(self, *stages: Stage):
        flat: list[Stage] = []
        for stage in stages:
            flat.extend(stage.stages if isinstance(stage, Sequence) else [stage])
        self.stages = flat
        self.name = " >> ".join(_label(s) for s in flat).replace(" >> % ", " % ")

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        for stage in self.stages:
            run = stage.transform(queries, run)
        return run


class Cutoff(Stage):
    """Keeps the top ``k`` of the incoming run."""

    def __init__(self, k: int):
        if k < 1:
            raise ValueError(f"cutoff must be at least 1, got {k}")
        self.k = k
        self.name = f"% {k}"

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        if run is None:
            raise ValueError("a cutoff needs an incoming run: put it after a retriever")
        return run.cut(self.k)


def _label(stage: Stage) -> str:
    # Parenthesise fusions inside sequences so the label reads back unambiguously.
    return f"({stage.name})" if " | " in stage.name else stage.name
