"""Training examples from a dataset's judgments: positives from qrels, hard negatives from a first stage."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from regard.data.types import Qrels, Query, Run
from regard.datasets import Dataset, cache_root, corpus_fingerprint
from regard.kinds import Index
from regard.indexing.manifest import MANIFEST_NAME
from regard.locks import target_lock


@dataclass
class TrainingSetup:
    """Settings shared by the training commands: where examples come from and how they are computed."""

    dataset: str = "scifact"
    split: str = "train"
    candidate_depth: int = 50
    max_length: int = 256
    seed: int = 13
    precision: str = "auto"
    device: str | None = None
    dense_index: str | None = None
    bm25_index: str | None = None


def optimisation_step(loss, model, optimizer, schedule, max_norm: float = 1.0) -> float:
    """Back-propagate ``loss``, clip gradients, step optimiser and schedule; returns the loss value."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    return loss.item()


@dataclass(frozen=True)
class Group:
    """One training query with one relevant document and the candidates to draw negatives from."""

    query: Query
    positive: str
    candidates: tuple[str, ...]  # first-stage results that are not judged relevant, best first

    def negatives(self, count: int, rng: random.Random) -> list[str]:
        """``count`` negatives sampled from the candidates (with repetition only if there are too few)."""
        if len(self.candidates) >= count:
            return rng.sample(self.candidates, count)
        return [rng.choice(self.candidates) for _ in range(count)] if self.candidates else []


def cached_bm25_index(dataset: Dataset, backend: str = "lucene") -> Index:
    """A BM25 index of the dataset's current corpus in regard's cache, built on first use.

    The folder is keyed by the content fingerprint of the corpus files, so an edited mirror gets a new
    index; concurrent trainers build it once (the target lock).
    """
    suffix = "bm25" if backend == "lucene" else f"bm25-{backend}"
    folder = cache_root() / "indexes" / f"{dataset.name}-{corpus_fingerprint(dataset)[:16]}-{suffix}"
    with target_lock(folder, announce=f"waiting for another process building {folder}"):
        if (folder / MANIFEST_NAME).exists():
            return Index.open(folder)
        return Index.build(dataset, folder, kind="bm25", backend=backend, overwrite=True)


def split_queries(queries: list[Query], held_out: float, seed: int) -> tuple[list[Query], list[Query]]:
    """Split queries into (training, validation) with a seeded shuffle; validation gets ``held_out`` of them."""
    shuffled = sorted(queries, key=lambda q: q.id)
    random.Random(seed).shuffle(shuffled)
    cut = int(round(len(shuffled) * held_out))
    return shuffled[cut:], shuffled[:cut]


def build_groups(queries: list[Query], qrels: Qrels, candidates: Run, min_grade: int = 1) -> list[Group]:
    """One group per (query, relevant document); negatives are the query's unjudged or non-relevant candidates."""
    groups = []
    for query in queries:
        relevant = qrels.relevant(query.id, min_grade)
        pool = tuple(d for d in candidates.docids(query.id) if d not in relevant)
        groups.extend(Group(query, positive, pool) for positive in sorted(relevant))
    return groups


def first_stage_candidates(index: Index, queries: list[Query], depth: int, extra: Index | None = None) -> Run:
    """The top ``depth`` of BM25 (fused with a dense index by RRF when ``extra`` is given)."""
    stage = index.retriever(k=depth)
    if extra is not None:
        stage = (stage | extra.retriever(k=depth)) % depth
    return stage(queries)


def index_of(path: str | Path | None) -> Index | None:
    return Index.open(path) if path else None
