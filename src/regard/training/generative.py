"""Fine-tuning a causal LM for SEAL: from a query, generate the title and n-grams of its relevant documents.

Each (query, relevant document) pair of the training split gives targets in the index's own form (the
document's lower-cased ``" " + title + " " + text`` tokens): the title, and ``spans_per_document``
random spans of ``span_tokens`` tokens that start at a word, so every target is a corpus n-gram the
constrained decoder can produce. The prompt is the query through the model's chat template, as at
search time; the loss is the targets' token cross-entropy (prompt tokens are not scored). The result
is a plain Hugging Face folder: ``Generative(index, llm="OUT")`` or ``- generative: OUT``.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from regard.data.atomic_file import write_text_atomic
from regard.data.types import Document, Qrels, Query
from regard.errors import RegardError
from regard.indexing.fmindex import document_text
from regard.training.data import optimisation_step


@dataclass
class GenerativeTrainingConfig:
    """Settings of ``regard train generative``."""

    dataset: str = "scifact"
    split: str = "train"
    base: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    epochs: int = 1
    learning_rate: float = 5e-5
    batch_size: int = 8
    spans_per_document: int = 3
    span_tokens: int = 10
    max_queries: int | None = None
    seed: int = 13
    device: str | None = None


@dataclass(frozen=True)
class Example:
    """One training sequence: prompt ids, then target ids (the only scored tokens)."""

    prompt: tuple[int, ...]
    target: tuple[int, ...]


def generative_examples(llm, queries: list[Query], qrels: Qrels, documents: dict[str, Document], *,
                        spans_per_document: int = 3, span_tokens: int = 10, relevance_threshold: int = 1,
                        seed: int = 13) -> list[Example]:
    """Prompt/target pairs for every judged (query, relevant document) pair (see the module docstring)."""
    from regard.retrieval.generative import word_start_tokens

    if spans_per_document < 0 or span_tokens < 1:
        raise RegardError(f"need spans_per_document >= 0 and span_tokens >= 1, got {spans_per_document}, {span_tokens}")
    rng = random.Random(seed)
    starts = word_start_tokens(llm.tokenizer)
    examples = []
    for query in queries:
        relevant = sorted(d for d, grade in qrels.get(query.id, {}).items() if grade >= relevance_threshold)
        prompt = tuple(llm.encode(llm.render([{"role": "user", "content": query.text}])))
        for doc_id in relevant:
            doc = documents.get(doc_id)
            if doc is None:
                continue
            tokens = llm.tokenizer(document_text(doc.title, doc.text), add_special_tokens=False)["input_ids"]
            if doc.title.strip():
                title = llm.tokenizer(document_text("", doc.title), add_special_tokens=False)["input_ids"]
                examples.append(Example(prompt, tuple(title)))
            candidates = [i for i in range(max(len(tokens) - span_tokens + 1, 1))
                          if tokens and tokens[i] < len(starts) and starts[tokens[i]]]
            for i in rng.sample(candidates, min(spans_per_document, len(candidates))):
                examples.append(Example(prompt, tuple(tokens[i:i + span_tokens])))
    if not examples:
        raise RegardError("no training examples: no judged query has a relevant document in the corpus")
    return examples


def train_on_examples(llm, examples: list[Example], *, epochs: int = 1, learning_rate: float = 5e-5,
                      batch_size: int = 8, seed: int = 13, log=None) -> list[float]:
    """Fine-tune ``llm.model`` in place on ``examples``; returns the mean loss of each epoch."""
    import torch

    if epochs < 1 or batch_size < 1 or learning_rate <= 0:
        raise RegardError(f"need epochs >= 1, batch_size >= 1, learning_rate > 0; got {epochs}, {batch_size}, "
                          f"{learning_rate}")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = llm.model.float().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    constant = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    pad = llm.tokenizer.pad_token_id
    losses = []
    for epoch in range(epochs):
        order = list(examples)
        rng.shuffle(order)
        total, batches = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            width = max(len(e.prompt) + len(e.target) for e in batch)
            ids, labels, mask = [], [], []
            for e in batch:
                sequence = list(e.prompt) + list(e.target)
                padding = width - len(sequence)
                ids.append(sequence + [pad] * padding)
                labels.append([-100] * len(e.prompt) + list(e.target) + [-100] * padding)
                mask.append([1] * len(sequence) + [0] * padding)
            device = llm.device
            loss = model(input_ids=torch.tensor(ids, device=device), attention_mask=torch.tensor(mask, device=device),
                         labels=torch.tensor(labels, device=device)).loss
            value = optimisation_step(loss, model, optimizer, constant)
            total, batches = total + value, batches + 1
            if log:
                log({"epoch": epoch, "batch": batches, "loss": value})
        losses.append(total / max(batches, 1))
    model.eval()
    return losses


def train_generative(config: GenerativeTrainingConfig, out: str | Path) -> Path:
    """Build examples from ``config.dataset``'s ``config.split`` judgments, fine-tune ``config.base``, save to ``out``."""
    from regard.datasets import load_dataset
    from regard.lm.causal import CausalLM

    if config.split == "test":
        raise RegardError("refusing to train on the test split")
    dataset = load_dataset(config.dataset)
    qrels = dataset.qrels(config.split)
    queries = [q for q in dataset.queries(config.split) if q.id in qrels][: config.max_queries]
    wanted = {d for q in queries for d in qrels[q.id]}
    documents = {d.id: d for d in dataset.corpus if d.id in wanted}
    llm = CausalLM.load(config.base, device=config.device, precision="fp32")
    examples = generative_examples(llm, queries, qrels, documents, spans_per_document=config.spans_per_document,
                                   span_tokens=config.span_tokens, relevance_threshold=dataset.relevance_threshold,
                                   seed=config.seed)
    steps = -(-len(examples) // config.batch_size)

    def progress(record: dict) -> None:
        if record["batch"] % 20 == 0 or record["batch"] == steps:
            print(f"epoch {record['epoch'] + 1} batch {record['batch']}/{steps} loss {record['loss']:.4f}",
                  file=sys.stderr, flush=True)

    losses = train_on_examples(llm, examples, epochs=config.epochs, learning_rate=config.learning_rate,
                               batch_size=config.batch_size, seed=config.seed, log=progress)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    llm.model.save_pretrained(folder, safe_serialization=True)
    llm.tokenizer.save_pretrained(folder)
    record = {"config": asdict(config), "queries": len(queries), "examples": len(examples), "epoch_losses": losses}
    write_text_atomic(folder / "regard_training.json", json.dumps(record, indent=2) + "\n")
    return folder
