"""The small set of types every stage reads and writes: documents, queries, judgments and runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus document. ``title`` may be empty."""

    id: str
    text: str
    title: str = ""

    @property
    def contents(self) -> str:
        """Title and text joined by a space, as BEIR's "flat" indexes see a document."""
        return f"{self.title} {self.text}".strip() if self.title else self.text.strip()


@dataclass(frozen=True, slots=True)
class Query:
    """One query (a topic's text)."""

    id: str
    text: str


class Qrels(dict):
    """Relevance judgments: qid -> {docid: grade}."""

    def relevant(self, qid: str, min_grade: int = 1) -> set[str]:
        """Docids judged at least ``min_grade`` for ``qid``."""
        return {d for d, g in self.get(qid, {}).items() if g >= min_grade}

    def restricted_to(self, qids: Iterable[str]) -> "Qrels":
        """The judgments of the given queries only."""
        wanted = set(qids)
        return Qrels({q: dict(j) for q, j in self.items() if q in wanted})


def ranked(hits: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """``(docid, score)`` pairs in the toolkit's one ranking order: score descending, then docid descending.

    That is trec_eval's order (and pytrec_eval's), so the ranking stored, written to a TREC file, read
    back and evaluated is the same ranking, ties included.
    """
    return sorted(((str(d), float(s)) for d, s in hits), key=lambda item: (item[1], item[0]), reverse=True)


class Run:
    """A ranking per query: qid -> [(docid, score), ...], best first; equal scores by docid descending.

    The tie order is trec_eval's, so metrics see exactly the order the run stores and writes.

    Runs are immutable values: operations return new runs.
    """

    __slots__ = ("_rankings",)

    def __init__(self, rankings: Mapping[str, Iterable[tuple[str, float]]] | None = None):
        self._rankings: dict[str, list[tuple[str, float]]] = {}
        for qid, hits in (rankings or {}).items():
            self._rankings[qid] = ranked(hits)

    @classmethod
    def from_scores(cls, scores: Mapping[str, Mapping[str, float]]) -> "Run":
        """Build a run from qid -> {docid: score}."""
        return cls({qid: per_doc.items() for qid, per_doc in scores.items()})

    def __getitem__(self, qid: str) -> list[tuple[str, float]]:
        return self._rankings[qid]

    def get(self, qid: str, default=None):
        return self._rankings.get(qid, default)

    def __contains__(self, qid: object) -> bool:
        return qid in self._rankings

    def __iter__(self) -> Iterator[str]:
        return iter(self._rankings)

    def __len__(self) -> int:
        return len(self._rankings)

    def items(self):
        return self._rankings.items()

    def qids(self) -> list[str]:
        return list(self._rankings)

    def cut(self, k: int) -> "Run":
        """The top ``k`` documents of every query."""
        out = Run()
        out._rankings = {q: hits[:k] for q, hits in self._rankings.items()}
        return out

    def docids(self, qid: str) -> list[str]:
        return [d for d, _ in self._rankings.get(qid, [])]

    def to_dict(self) -> dict[str, dict[str, float]]:
        """qid -> {docid: score}, the shape pytrec_eval and ir-measures take."""
        return {q: dict(hits) for q, hits in self._rankings.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and self._rankings == other._rankings

    def __repr__(self) -> str:
        depth = max((len(h) for h in self._rankings.values()), default=0)
        return f"Run({len(self._rankings)} queries, depth <= {depth})"
