"""LoCoV1, the long-document retrieval benchmark of the M2-BERT paper: 12 tasks, nDCG@10.

The data is the pair of Hugging Face datasets ``hazyresearch/LoCoV1-Queries`` (rows ``qid``,
``dataset``, ``query``, ``answer_pids``) and ``hazyresearch/LoCoV1-Documents`` (rows ``pid``,
``dataset``, ``passage``), one ``test`` split each, tasks told apart by the ``dataset`` field. regard
reads them from a folder holding the two repositories side by side, as
``huggingface-cli download --repo-type dataset`` writes them::

    REGARD_DATA/loco/LoCoV1-Queries/documents/qmsum_test.jsonl   (also *.jsonl.gz, *.parquet)
    REGARD_DATA/loco/LoCoV1-Documents/documents/qmsum_test.jsonl

found in the local mirror (``REGARD_DATA``, folder ``loco`` or ``LoCoV1``) or the cache
(``$REGARD_CACHE/datasets/loco``), else downloaded there with ``huggingface_hub``. A task is
``loco/<task>``; ``loco`` names all twelve (``regard eval --dataset loco`` evaluates each and
averages). Every answer pid is relevant with grade 1. Documents with no passage (a few QASPER
papers) are skipped, as the published evaluation does; a query left with no relevant document then
drops out of the means, since means are over queries with a judged relevant document.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from regard.data.types import Document, Qrels, Query
from regard.errors import InputFormatError, MissingExtraError, RegardError

QUERIES_REPO = "hazyresearch/LoCoV1-Queries"
DOCUMENTS_REPO = "hazyresearch/LoCoV1-Documents"
TASKS = (
    "summ_screen_fd", "gov_report", "qmsum", "qasper_title", "qasper_abstract", "multifieldqa", "2wikimqa",
    "passage_retrieval", "legal_case_reports", "courtlistener_HTML", "courtlistener_Plain_Text", "stackoverflow",
)
SPLIT = "test"
# Average nDCG@10 over the 12 tasks reported in the paper (Saad-Falcon et al., 2024, LoCoV1 table).
PAPER_AVERAGE_NDCG10 = {"M2-BERT-32k (80M)": 94.7, "BM25": 79.9}


def task_of(name: str) -> str | None:
    """``qmsum`` for ``loco/qmsum``; None for ``loco`` (all tasks)."""
    return None if name == "loco" else name.split("/", 1)[1]


def tasks_of(name: str) -> list[str]:
    """The dataset names ``name`` stands for: itself for one task, the twelve tasks for ``loco``."""
    return [f"loco/{task}" for task in TASKS] if name == "loco" else [name]


def _rows(path: Path) -> Iterator[tuple[int | None, dict]]:
    """Records of a JSONL (optionally gzipped) or Parquet file, with their line numbers."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingExtraError("pyarrow", "loco", f"reading {path}") from None
        for record in pq.read_table(path).to_pylist():
            yield None, record
        return
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise InputFormatError(path, f"not JSON ({error.msg})", line=number) from None


def _files(folder: Path, task: str | None) -> list[Path]:
    """The data files of one repository folder; for one task, its own file when there is one."""
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))
    if not found:
        found = sorted(folder.rglob("*.parquet"))
    if task is not None:
        own = [p for p in found if p.name.split(".")[0] in (f"{task}_{SPLIT}", task)]
        if own:
            return own
    return found


def _read(folder: Path, task: str | None, required: tuple[str, ...]) -> Iterator[dict]:
    for path in _files(folder, task):
        for line, record in _rows(path):
            if task is not None and record.get("dataset") != task:
                continue
            for name in required:
                if name not in record:
                    raise InputFormatError(path, "missing field", line=line, field=name)
            yield record


class LocoCorpus:
    """The documents of one task (or of all), in file order, skipping empty passages."""

    def __init__(self, root: Path, task: str | None):
        self.path = root / "LoCoV1-Documents"
        self.task = task
        self.skipped_empty = 0

    def files(self) -> list[Path]:
        """The files the documents are read from (for content fingerprints)."""
        return _files(self.path, self.task)

    def __iter__(self) -> Iterator[Document]:
        seen: set[str] = set()
        self.skipped_empty = 0
        for record in _read(self.path, self.task, ("pid", "passage")):
            pid, passage = str(record["pid"]), record["passage"]
            if pid in seen:
                continue
            seen.add(pid)
            if not passage or not str(passage).strip():
                self.skipped_empty += 1
                continue
            yield Document(pid, str(passage))


class LocoDataset:
    """One LoCoV1 task (``loco/qmsum``) or all of them (``loco``), with `Dataset`'s interface."""

    def __init__(self, name: str, root: Path, entry):
        self.name = name
        self.root = root
        self.spec = entry
        self.task = task_of(name)
        for folder in ("LoCoV1-Queries", "LoCoV1-Documents"):
            if not (root / folder).is_dir():
                raise RegardError(f"{root}: no {folder} folder (expected the two Hugging Face dataset "
                                  f"repositories side by side; see regard.loco)")

    @property
    def corpus(self) -> LocoCorpus:
        return LocoCorpus(self.root, self.task)

    @property
    def relevance_threshold(self) -> int:
        return 1

    @property
    def cache_name(self) -> str:
        return self.name

    def splits(self) -> list[str]:
        return [SPLIT]

    @cached_property
    def _queries_and_qrels(self) -> tuple[list[Query], Qrels]:
        queries, qrels = [], Qrels()
        for record in _read(self.root / "LoCoV1-Queries", self.task, ("qid", "query", "answer_pids")):
            qid = str(record["qid"])
            if qid in qrels:
                continue
            queries.append(Query(qid, str(record["query"])))
            qrels[qid] = {str(pid): 1 for pid in record["answer_pids"] or []}
        if not queries:
            where = f"task {self.task!r}" if self.task else "any task"
            raise RegardError(f"{self.root}: no LoCoV1 queries for {where}")
        return queries, qrels

    def _check(self, split: str | None) -> None:
        if (split or SPLIT) != SPLIT:
            raise RegardError(f"{self.name} has only the {SPLIT!r} split")

    def qrels(self, split: str | None = None) -> Qrels:
        """Relevance judgments (every answer pid, grade 1), limited to documents with a passage."""
        self._check(split)
        _, judgments = self._queries_and_qrels
        present = self._document_ids
        return Qrels({qid: {pid: grade for pid, grade in docs.items() if pid in present}
                      for qid, docs in judgments.items()})

    @cached_property
    def _document_ids(self) -> set[str]:
        return {doc.id for doc in self.corpus}

    def queries(self, split: str | None = None) -> list[Query]:
        """The task's queries that keep a relevant document."""
        self._check(split)
        judged = self.qrels(split)
        return [q for q in self._queries_and_qrels[0] if judged.get(q.id)]

    def candidates(self):
        raise RegardError(f"{self.name} ships no candidate run")

    def __repr__(self) -> str:
        return f"LocoDataset({self.name!r}, root={str(self.root)!r})"


def download(target: Path) -> Path:
    """Fetch both repositories into ``target`` (atomically) with huggingface_hub."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MissingExtraError("huggingface_hub", "loco", "downloading LoCoV1") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".loco.", dir=target.parent))
    try:
        for repo in (QUERIES_REPO, DOCUMENTS_REPO):
            snapshot_download(repo, repo_type="dataset", local_dir=str(staging / repo.split("/")[1]),
                              allow_patterns=["*.jsonl", "*.jsonl.gz", "*.parquet"])
        os.replace(staging, target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, Exception):
            raise RegardError(f"cannot download LoCoV1 from the Hugging Face hub ({error}); put the two "
                              f"repositories in REGARD_DATA/loco (see regard.loco)") from None
        raise
    return target
