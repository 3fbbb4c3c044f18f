"""ir_datasets ids as regard datasets: ``irds:beir/scifact/test``, ``irds:msmarco-passage/trec-dl-2019/judged``.

ir_datasets does the downloading and caching (``IR_DATASETS_HOME``, default ``~/.ir_datasets``), as for
its other users; regard reads its documents, queries and qrels through its Python API. Documents
become ``Document(doc_id, text, title)`` from the dataset's own fields; queries take the ``text``
field (TREC topics: ``title``); qrels keep their grades. The relevance threshold for recall and MAP
comes from the measures the dataset's documentation names as official (``AP(rel=2)`` for TREC DL),
else 1. Ids under ``beir/`` follow BEIR's convention of ignoring a retrieved document whose id is the
query's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from regard.data.types import Document, Qrels, Query, Run
from regard.errors import MissingExtraError, RegardError, UnknownDatasetError

_REL = re.compile(r"rel=(\d+)")
SPLIT = "test"  # an ir_datasets id is one query set with its judgments: regard calls it the test split


def import_ir_datasets():
    """The ``ir_datasets`` module, or an error naming the extra that installs it."""
    try:
        import ir_datasets
    except ImportError:
        raise MissingExtraError("ir-datasets", "irds", "reading ir_datasets ids (irds:...)") from None
    return ir_datasets


def official_relevance_threshold(documentation: dict[str, Any] | None) -> int:
    """The ``rel=N`` of the dataset's official measures (``AP(rel=2)`` -> 2), else 1."""
    for measure in (documentation or {}).get("official_measures", []) or []:
        match = _REL.search(str(measure))
        if match:
            return int(match.group(1))
    return 1


def _field(record, *names: str) -> str | None:
    for name in names:
        value = getattr(record, name, None)
        if isinstance(value, str):
            return value
    return None


class IrdsCorpus:
    """The documents of an ir_datasets dataset, streamed; empty ones are skipped and counted."""

    def __init__(self, dataset, dataset_id: str):
        self.dataset = dataset
        self.path = f"irds:{dataset_id}"
        self.skipped_empty = 0

    def __iter__(self) -> Iterator[Document]:
        self.skipped_empty = 0
        for doc in self.dataset.docs_iter():
            title = _field(doc, "title") or ""
            text = _field(doc, "text", "body", "abstract", "contents")
            if text is None:
                text = doc.default_text()
                if title and text.startswith(title):  # default_text() of titled documents repeats the title
                    text = text[len(title):].lstrip()
            if not (title.strip() or text.strip()):
                self.skipped_empty += 1
                continue
            yield Document(id=str(doc.doc_id), text=text, title=title)


class IrdsDataset:
    """An ir_datasets id with `Dataset`'s interface: corpus, one split of queries and qrels."""

    def __init__(self, dataset_id: str, relevance_threshold: int | None = None):
        from regard.datasets import DatasetSpec

        ir_datasets = import_ir_datasets()
        try:
            self.dataset = ir_datasets.load(dataset_id)
        except KeyError:
            raise UnknownDatasetError(f"ir_datasets has no dataset {dataset_id!r} (see https://ir-datasets.com)") \
                from None
        self.dataset_id = dataset_id
        self.name = f"irds:{dataset_id}"
        self.root = self.name
        threshold = relevance_threshold if relevance_threshold is not None else \
            official_relevance_threshold(self._documentation())
        self.spec = DatasetSpec(
            name=self.name, description=f"ir_datasets {dataset_id}",
            layout="beir" if dataset_id.startswith("beir/") else "irds", relevance_threshold=threshold,
            downloadable=False,
        )

    def _documentation(self) -> dict[str, Any] | None:
        try:
            return self.dataset.documentation()
        except AttributeError:
            return None

    @property
    def cache_name(self) -> str:
        """A folder-safe name for cached indexes and stage outputs."""
        return "irds-" + re.sub(r"[^A-Za-z0-9._-]+", "-", self.dataset_id)

    @property
    def relevance_threshold(self) -> int:
        return self.spec.relevance_threshold

    @property
    def corpus(self) -> IrdsCorpus:
        if not self.dataset.has_docs():
            raise RegardError(f"{self.name} has no documents")
        return IrdsCorpus(self.dataset, self.dataset_id)

    def splits(self) -> list[str]:
        return [SPLIT] if self.dataset.has_qrels() else []

    def _check(self, split: str | None) -> None:
        if (split or SPLIT) != SPLIT:
            raise RegardError(f"{self.name} is one query set (split {SPLIT!r}); name another id for another split")

    def qrels(self, split: str | None = None) -> Qrels:
        """The dataset's judgments, grades as given."""
        self._check(split)
        return self._qrels

    @cached_property
    def _qrels(self) -> Qrels:
        if not self.dataset.has_qrels():
            raise RegardError(f"{self.name} has no relevance judgments")
        qrels = Qrels()
        for qrel in self.dataset.qrels_iter():
            qrels.setdefault(str(qrel.query_id), {})[str(qrel.doc_id)] = int(qrel.relevance)
        return qrels

    def queries(self, split: str | None = None) -> list[Query]:
        """The judged queries, in the dataset's order."""
        judged = self.qrels(split)
        return [q for q in self._all_queries if q.id in judged]

    @cached_property
    def _all_queries(self) -> list[Query]:
        if not self.dataset.has_queries():
            raise RegardError(f"{self.name} has no queries")
        return [Query(id=str(q.query_id), text=" ".join((_field(q, "text", "title", "query") or q.default_text())
                                                             .split()))
                for q in self.dataset.queries_iter()]

    def candidates(self) -> Run:
        """The dataset's scored documents (e.g. a shipped BM25 run), when it has them."""
        if not self.dataset.has_scoreddocs():
            raise RegardError(f"{self.name} ships no candidate run (scoreddocs)")
        run: dict[str, list[tuple[str, float]]] = {}
        for scored in self.dataset.scoreddocs_iter():
            run.setdefault(str(scored.query_id), []).append((str(scored.doc_id), float(scored.score)))
        return Run(run)

    def __repr__(self) -> str:
        return f"IrdsDataset({self.dataset_id!r})"
