"""Distilled Sentence Embedding (DSE): a bi-encoder student trained to reproduce a cross-encoder teacher.

The student encodes query and document separately; its score is ``SCALE * cos(q, d)``. Two losses:

- ``regression`` (the DSE paper): mean squared error between the student's and the teacher's score
  of each (query, document) pair;
- ``margin-mse`` (Hofstätter et al. 2020): mean squared error between score *differences*, relevant
  minus negative, of student and teacher, which leaves the student free to shift its scale.

Pairs come from the training queries' first-stage candidates (BM25, optionally fused with a dense
index); teacher scores are computed once and cached. The student is saved as an ordinary
sentence-transformers folder, which ``regard index --kind dense --model DIR`` indexes.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from regard.data.atomic_file import write_text_atomic
from regard.datasets import load_dataset
from regard.encoders.dense import effective_precision
from regard.models import autocast, choose_device, resolve_model
from regard.progress import progress_bar
from regard.encoders.pair_scorer import PairScorer
from regard.encoders.score_cache import ScoreCache
from regard.training.data import (
    Group, TrainingSetup, build_groups, cached_bm25_index, first_stage_candidates, index_of, optimisation_step,
)

log = logging.getLogger(__name__)
SCALE = 20.0  # cosine similarities span [-1, 1]; teacher logits span roughly [-10, 10]
LOSSES = ("margin-mse", "regression")


@dataclass
class DistillationConfig(TrainingSetup):
    """Everything that defines a distillation run; stored beside the student."""

    teacher: str = ""
    student: str = "sentence-transformers/all-MiniLM-L6-v2"
    loss: str = "margin-mse"
    epochs: int = 1
    learning_rate: float = 2e-5
    warmup_fraction: float = 0.05
    groups_per_batch: int = 8
    negatives: int = 4
    candidate_depth: int = 20


def teacher_scores(teacher: PairScorer, groups: list[Group], texts: dict[str, str], corpus_key: str) -> dict:
    """The teacher's score of every (query text, docid) pair the groups can draw, cached on disk."""
    cache = ScoreCache()
    namespace = f"{teacher.identity}|{corpus_key}"
    pairs = list(dict.fromkeys((g.query.text, d) for g in groups for d in (g.positive, *g.candidates)))
    known = cache.lookup(namespace, pairs)
    todo = [p for p in pairs if p not in known]
    if todo:
        fresh = teacher.score([q for q, _ in todo], [texts[d] for _, d in todo], progress=True)
        new = dict(zip(todo, fresh.tolist()))
        cache.store(namespace, new)
        known.update(new)
    return known


def student_scores(model, queries: list[str], documents: list[str], max_length: int):
    """``SCALE * cos`` between each query and its document, with gradients."""
    import torch

    model.max_seq_length = max_length

    def embed(texts):
        features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v
                    for k, v in model.tokenize(texts).items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"].float(), dim=-1)

    return SCALE * (embed(queries) * embed(documents)).sum(dim=-1)


def distillation_loss(model, groups: list[Group], texts: dict[str, str], teacher: dict, loss: str,
                      negatives: int, rng: random.Random, max_length: int):
    """The configured loss over one batch of groups (relevant document plus sampled negatives each)."""
    import torch

    queries, documents, targets = [], [], []
    for group in groups:
        picked = [group.positive, *group.negatives(negatives, rng)]
        queries.extend([group.query.text] * len(picked))
        documents.extend(texts[d] for d in picked)
        targets.extend(teacher[(group.query.text, d)] for d in picked)
    student = student_scores(model, queries, documents, max_length).view(len(groups), -1)
    target = torch.tensor(targets, dtype=torch.float32, device=student.device).view(len(groups), -1)
    if loss == "regression":
        return torch.nn.functional.mse_loss(student, target)
    return torch.nn.functional.mse_loss(student[:, :1] - student[:, 1:], target[:, :1] - target[:, 1:])


def distill(config: DistillationConfig, out: str | Path) -> Path:
    """Train the student on the teacher's scores and save it as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import get_linear_schedule_with_warmup

    if not config.teacher:
        raise ValueError("a teacher cross-encoder is required")
    if config.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {config.loss!r}")
    out = Path(out)
    device = choose_device(config.device)
    precision = effective_precision(config.precision, device)
    torch.manual_seed(config.seed)
    data = load_dataset(config.dataset)
    queries, qrels = data.queries(config.split), data.qrels(config.split)
    bm25 = index_of(config.bm25_index) or cached_bm25_index(data)
    candidates = first_stage_candidates(bm25, queries, config.candidate_depth, extra=index_of(config.dense_index))
    groups = [g for g in build_groups(queries, qrels, candidates, data.relevance_threshold) if g.candidates]
    needed = {g.positive for g in groups} | {d for g in groups for d in g.candidates}
    texts = {d: doc.contents for d, doc in bm25.docstore.get_many(needed).items()}
    teacher = teacher_scores(PairScorer.load(config.teacher, device=device, precision=precision), groups, texts,
                             bm25.manifest.corpus_fingerprint)
    model = SentenceTransformer(resolve_model(config.student).location, device=device)
    model.train()
    steps = math.ceil(len(groups) / config.groups_per_batch) * config.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(steps * config.warmup_fraction), steps)
    out.mkdir(parents=True, exist_ok=True)
    history = []
    for epoch in range(1, config.epochs + 1):
        rng = random.Random(config.seed * 1000 + epoch)
        order = list(range(len(groups)))
        rng.shuffle(order)
        started, losses = time.perf_counter(), []
        bar = progress_bar(range(0, len(order), config.groups_per_batch), desc=f"Distil epoch {epoch}", unit="step")
        for start in bar:
            batch = [groups[i] for i in order[start:start + config.groups_per_batch]]
            with autocast(device, precision):
                loss = distillation_loss(model, batch, texts, teacher, config.loss, config.negatives, rng,
                                         config.max_length)
            losses.append(optimisation_step(loss, model, optimizer, schedule))
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")
        record = {"epoch": epoch, "loss": sum(losses) / len(losses), "seconds": round(time.perf_counter() - started, 1)}
        history.append(record)
        tqdm.write(json.dumps(record))
    model.eval()
    model.save(str(out), safe_serialization=True)
    write_text_atomic(out / "distillation.json", json.dumps({"config": asdict(config), "history": history}, indent=2) + "\n")
    return out
