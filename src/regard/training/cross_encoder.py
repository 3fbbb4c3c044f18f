"""Fine-tune a cross-encoder on a dataset's own judgments, with hard negatives from BM25.

Each step sees groups of one relevant document and ``negatives`` hard negatives per query; the loss
is the softmax cross-entropy of the relevant document against its group (localised contrastive
estimation, Gao et al. 2021). After every epoch the model reranks the first-stage top of held-out
training queries, logs validation nDCG@10, and is saved in the Hugging Face layout (safetensors);
a rerun resumes after the last finished epoch.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from regard.data.atomic_file import write_text_atomic
from regard.data.types import Run
from regard.datasets import load_dataset
from regard.encoders.dense import effective_precision
from regard.eval.metrics import evaluate
from regard.models import autocast, choose_device, resolve_model
from regard.progress import progress_bar
from regard.encoders.pair_scorer import PairScorer
from regard.training.data import (
    Group, TrainingSetup, build_groups, cached_bm25_index, first_stage_candidates, index_of, optimisation_step,
    split_queries,
)

log = logging.getLogger(__name__)
STATE_FILE = "training_state.json"
LOG_FILE = "training_log.jsonl"


@dataclass
class CrossEncoderTrainingConfig(TrainingSetup):
    """Everything that defines a training run; stored beside the checkpoint."""

    base: str = "sentence-transformers/all-MiniLM-L6-v2"
    epochs: int = 2
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3  # the fresh classification head starts from nothing: let it move faster
    warmup_fraction: float = 0.05
    weight_decay: float = 0.01
    groups_per_batch: int = 4
    negatives: int = 7
    held_out: float = 0.1
    validation_depth: int = 30


def group_loss(model, tokenizer, groups: list[Group], texts: dict[str, str], negatives: int, rng: random.Random,
               max_length: int, device: str):
    """Softmax cross-entropy of each group's relevant document (index 0) against its negatives."""
    import torch

    queries, documents = [], []
    for group in groups:
        picked = [group.positive, *group.negatives(negatives, rng)]
        queries.extend([group.query.text] * len(picked))
        documents.extend(texts[d] for d in picked)
    batch = tokenizer(queries, documents, padding=True, truncation="longest_first", max_length=max_length,
                      return_tensors="pt").to(device)
    logits = model(**batch).logits[:, 0].float().view(len(groups), -1)
    return torch.nn.functional.cross_entropy(logits, torch.zeros(len(groups), dtype=torch.long, device=device))


class CrossEncoderTrainer:
    """Trains and checkpoints a cross-encoder as configured; ``run()`` does the whole job."""

    def __init__(self, config: CrossEncoderTrainingConfig, out: str | Path):
        self.config = config
        self.out = Path(out)
        self.device = choose_device(config.device)
        self.precision = effective_precision(config.precision, self.device)

    def _prepare(self):
        c = self.config
        data = load_dataset(c.dataset)
        queries, qrels = data.queries(c.split), data.qrels(c.split)
        bm25 = index_of(c.bm25_index) or cached_bm25_index(data)
        train_queries, val_queries = split_queries(queries, c.held_out, c.seed)
        candidates = first_stage_candidates(bm25, queries, c.candidate_depth, extra=index_of(c.dense_index))
        groups = build_groups(train_queries, qrels, candidates, data.relevance_threshold)
        groups = [g for g in groups if g.candidates]
        needed = {g.positive for g in groups} | {d for g in groups for d in g.candidates}
        needed |= {d for q in val_queries for d in candidates.docids(q.id)[:c.validation_depth]}
        texts = {d: doc.contents for d, doc in bm25.docstore.get_many(needed).items()}
        missing = needed - set(texts)
        if missing:
            raise ValueError(f"{len(missing)} judged documents are not in the corpus (e.g. {sorted(missing)[0]!r})")
        val_run = Run({q.id: candidates[q.id][:c.validation_depth] for q in val_queries if q.id in candidates})
        return groups, val_queries, val_run, qrels.restricted_to(q.id for q in val_queries), texts, data

    def _load(self, location: str):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(location)
        model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=1).to(self.device)
        return model, tokenizer

    def _state(self) -> dict:
        path = self.out / STATE_FILE
        return json.loads(path.read_text()) if path.exists() else {"epochs_done": 0, "history": []}

    def validate(self, model, tokenizer, val_queries, val_run: Run, val_qrels, texts) -> float:
        """nDCG@10 of the model reranking the first-stage top of the held-out queries."""
        import torch

        model.eval()
        scorer = PairScorer(model, tokenizer, name=self.config.base, device=self.device, precision=self.precision,
                            batch_size=64, max_length=self.config.max_length)
        pairs = [(q, d) for q in val_queries for d in val_run.docids(q.id)]
        scores = scorer.score([q.text for q, _ in pairs], [texts[d] for _, d in pairs])
        reranked: dict[str, dict[str, float]] = {}
        for (q, d), s in zip(pairs, scores.tolist()):
            reranked.setdefault(q.id, {})[d] = s
        model.train()
        torch.set_grad_enabled(True)
        return evaluate(Run.from_scores(reranked), val_qrels, ["ndcg@10"])["ndcg@10"]

    def run(self) -> Path:
        """Train, validating and checkpointing after every epoch; returns the output folder."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        state = self._state()
        if state["epochs_done"] >= c.epochs:
            log.info("%s: already trained for %d epochs", self.out, c.epochs)
            return self.out
        torch.manual_seed(c.seed)
        groups, val_queries, val_run, val_qrels, texts, _ = self._prepare()
        resume = self.out / "last" if state["epochs_done"] else None
        model, tokenizer = self._load(str(resume) if resume else resolve_model(c.base).location)
        steps_per_epoch = math.ceil(len(groups) / c.groups_per_batch)
        total = steps_per_epoch * c.epochs
        optimizer = torch.optim.AdamW(self._parameter_groups(model), lr=c.learning_rate)
        schedule = get_linear_schedule_with_warmup(optimizer, int(total * c.warmup_fraction), total)
        for _ in range(state["epochs_done"] * steps_per_epoch):
            schedule.step()  # resume: the optimiser moments restart, the learning-rate schedule does not
        if not state["epochs_done"]:
            baseline = self.validate(model, tokenizer, val_queries, val_run, val_qrels, texts)
            first_stage = evaluate(val_run, val_qrels, ["ndcg@10"])["ndcg@10"]
            self._log({"epoch": 0, "validation_ndcg@10": baseline, "first_stage_ndcg@10": first_stage})
        model.train()
        for epoch in range(state["epochs_done"] + 1, c.epochs + 1):
            rng = random.Random(c.seed * 1000 + epoch)
            order = list(range(len(groups)))
            rng.shuffle(order)
            started, losses = time.perf_counter(), []
            bar = progress_bar(range(0, len(order), c.groups_per_batch), desc=f"Epoch {epoch}/{c.epochs}", unit="step")
            for start in bar:
                batch = [groups[i] for i in order[start:start + c.groups_per_batch]]
                with autocast(self.device, self.precision):
                    loss = group_loss(model, tokenizer, batch, texts, c.negatives, rng, c.max_length, self.device)
                losses.append(optimisation_step(loss, model, optimizer, schedule))
                bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")
            validation = self.validate(model, tokenizer, val_queries, val_run, val_qrels, texts)
            self._checkpoint(model, tokenizer, epoch, state)
            self._log({"epoch": epoch, "loss": sum(losses) / len(losses), "validation_ndcg@10": validation,
                       "seconds": round(time.perf_counter() - started, 1), "groups": len(groups)})
        return self.out

    def _parameter_groups(self, model) -> list[dict]:
        """No weight decay on biases and LayerNorm; the head (``classifier``) at its own learning rate."""
        c, groups = self.config, {}
        for name, parameter in model.named_parameters():
            head = name.startswith("classifier")
            decay = not name.endswith("bias") and "LayerNorm" not in name
            key = (head, decay)
            groups.setdefault(key, {"params": [], "weight_decay": c.weight_decay if decay else 0.0,
                                    "lr": c.head_learning_rate if head else c.learning_rate})["params"].append(parameter)
        return list(groups.values())

    def _checkpoint(self, model, tokenizer, epoch: int, state: dict) -> None:
        """Save the model at the top of ``out`` (what users load) and as ``last`` (what a resume loads)."""
        staging = self.out / ".saving"
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.model_max_length = self.config.max_length  # score at the length it was trained at
        tokenizer.save_pretrained(staging)
        for item in staging.iterdir():
            shutil.copy2(item, self.out / item.name)
        shutil.rmtree(self.out / "last", ignore_errors=True)
        staging.rename(self.out / "last")
        state["epochs_done"] = epoch
        write_text_atomic(self.out / "training_config.json", json.dumps(asdict(self.config), indent=2) + "\n")
        write_text_atomic(self.out / STATE_FILE, json.dumps(state, indent=2) + "\n")

    def _log(self, record: dict) -> None:
        line = json.dumps(record)
        log.info(line)
        tqdm.write(line)
        with open(self.out / LOG_FILE, "a") as handle:
            handle.write(line + "\n")
