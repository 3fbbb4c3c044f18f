"""The small set of types every stage reads and writes: documents, queries, judgments and runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np


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

    Stored compactly: per query, a list of docids (the strings shared with whoever made them) and a
    float64 array of scores, about 16 bytes per entry instead of a tuple and a float object each
    (MS MARCO dev, 6,980 queries x 1,000, costs about 110 MB rather than 600 MB). ``run[qid]`` builds
    the ``(docid, score)`` list when asked.
    """

    __slots__ = ("_docids", "_scores")

    def __init__(self, rankings: Mapping[str, Iterable[tuple[str, float]]] | None = None):
        self._docids: dict[str, list[str]] = {}
        self._scores: dict[str, np.ndarray] = {}
        for qid, hits in (rankings or {}).items():
            pairs = ranked(hits)
            self._docids[qid] = [d for d, _ in pairs]
            self._scores[qid] = np.fromiter((s for _, s in pairs), dtype=np.float64, count=len(pairs))

    @classmethod
    def from_scores(cls, scores: Mapping[str, Mapping[str, float]]) -> "Run":
        """Build a run from qid -> {docid: score}."""
        return cls({qid: per_doc.items() for qid, per_doc in scores.items()})

    @classmethod
    def from_ranked(cls, rankings: Mapping[str, tuple[list[str], np.ndarray]]) -> "Run":
        """Build a run from qid -> (docids, scores) already in ``ranked`` order, without sorting again.

        The order is checked (scores never rise; tied scores have descending docids); ValueError if not.
        """
        out = cls()
        for qid, (docids, scores) in rankings.items():
            scores = np.asarray(scores, dtype=np.float64)
            if len(docids) != len(scores):
                raise ValueError(f"query {qid!r}: {len(docids)} docids but {len(scores)} scores")
            ties = np.flatnonzero(scores[1:] == scores[:-1]).tolist()
            if np.any(scores[1:] > scores[:-1]) or any(docids[i] <= docids[i + 1] for i in ties):
                raise ValueError(f"query {qid!r}: the ranking is not by score, then docid, descending")
            out._docids[qid] = list(docids)
            out._scores[qid] = scores
        return out

    def __getitem__(self, qid: str) -> list[tuple[str, float]]:
        return list(zip(self._docids[qid], self._scores[qid].tolist()))

    def get(self, qid: str, default=None):
        return self[qid] if qid in self._docids else default

    def __contains__(self, qid: object) -> bool:
        return qid in self._docids

    def __iter__(self) -> Iterator[str]:
        return iter(self._docids)

    def __len__(self) -> int:
        return len(self._docids)

    def items(self) -> Iterator[tuple[str, list[tuple[str, float]]]]:
        """(qid, ranking) pairs, each ranking built as it is reached."""
        return ((qid, self[qid]) for qid in self._docids)

    def qids(self) -> list[str]:
        return list(self._docids)

    def cut(self, k: int) -> "Run":
        """The top ``k`` documents of every query."""
        out = Run()
        out._docids = {q: docids[:k] for q, docids in self._docids.items()}
        out._scores = {q: scores[:k].copy() for q, scores in self._scores.items()}
        return out

    def docids(self, qid: str) -> list[str]:
        return list(self._docids.get(qid, []))

    def scores(self, qid: str) -> np.ndarray:
        """The scores of ``qid``'s ranking, best first (a read-only view)."""
        view = self._scores[qid].view()
        view.flags.writeable = False
        return view

    def to_dict(self) -> dict[str, dict[str, float]]:
        """qid -> {docid: score}, the shape pytrec_eval and ir-measures take."""
        return {q: dict(zip(docids, self._scores[q].tolist())) for q, docids in self._docids.items()}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Run) and self._docids == other._docids
                and all(np.array_equal(s, other._scores[q]) for q, s in self._scores.items()))

    def __repr__(self) -> str:
        depth = max((len(d) for d in self._docids.values()), default=0)
        return f"Run({len(self._docids)} queries, depth <= {depth})"
