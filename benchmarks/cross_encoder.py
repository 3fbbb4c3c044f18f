#!/usr/bin/env python
"""Cross-encoder benchmark on SciFact test: reranking quality and scoring speed against sentence-transformers.

Quality: BM25 (Lucene) alone against ``bm25 % 100 >> CrossEncoder(MODEL)`` on the 300 test queries.
Speed, same run and same pairs: regard's ``PairScorer`` (fp32 and the CPU's default precision)
against sentence-transformers' ``CrossEncoder.predict`` at the same batch size.

    .venv/bin/python benchmarks/cross_encoder.py --model models/scifact-ce
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
METRICS = ["ndcg@10", "recall@100", "map"]


def _use_shared_datasets() -> None:
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if not os.environ.get("REGARD_DATA") and shared.is_dir():
        os.environ["REGARD_DATA"] = str(shared)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def quality(model: str, depth: int, workdir: Path) -> dict:
    """nDCG@10, R@100 and MAP of BM25 and of BM25 top-``depth`` reranked by the cross-encoder."""
    from regard import Index, evaluate, load_dataset
    from regard.rerank.cross_encoder import CrossEncoder

    data = load_dataset("scifact")
    queries, qrels = data.queries("test"), data.qrels("test")
    index = Index.build(data, workdir / "bm25", kind="bm25")
    bm25 = index.retriever(k=1000)
    first = bm25(queries)
    reranker = CrossEncoder(index, model, cache=False)
    seconds, reranked = timed(reranker, queries, first.cut(depth))
    return {
        "queries": len(queries), "depth": depth, "precision": reranker.scorer.precision,
        "runtime": reranker.scorer.runtime,
        "bm25": evaluate(first, qrels, METRICS),
        "reranked": evaluate(reranked, qrels, METRICS),
        "rerank_seconds_per_query": seconds / len(queries),
        "pairs": sum(len(first.cut(depth)[q.id]) for q in queries),
    }, index, first


def _st_cross_encoder(model: str, label: str, precision: str, **options):
    """sentence-transformers' CrossEncoder loaded with ``options``; scores are its raw logits (no activation)."""

    def make():
        from sentence_transformers import CrossEncoder as STCrossEncoder

        st = STCrossEncoder(model, device="cpu", **options)

        def score(pairs, batch_size):
            return np.asarray(st.predict(pairs, batch_size=batch_size, show_progress_bar=False,
                                         activation_fn=_identity, convert_to_numpy=True), dtype=np.float32)

        return label, precision, score
    return make


def _identity(x):
    return x


def _regard_scorer(model: str, precision: str, runtime: str):
    def make():
        from regard.encoders.pair_scorer import PairScorer

        scorer = PairScorer.load(model, precision=precision, device="cpu", runtime=runtime)

        def score(pairs, batch_size):
            scorer.batch_size = batch_size
            return scorer.score([q for q, _ in pairs], [d for _, d in pairs])

        return f"regard PairScorer ({scorer.precision}, {scorer.runtime})", scorer.precision, score
    return make


def speed(model: str, pairs: list[tuple[str, str]], batch_size: int, rounds: int) -> tuple[list[dict], list[str]]:
    """Pairs/s of every configuration on the same pairs, in alternating rounds after one warm-up each."""
    import statistics

    import torch

    makers = [
        (_st_cross_encoder(model, "sentence-transformers CrossEncoder", "fp32"), False),
        (_st_cross_encoder(model, "sentence-transformers CrossEncoder, bf16 weights", "bf16",
                           model_kwargs={"torch_dtype": torch.bfloat16}), False),
        (_st_cross_encoder(model, "sentence-transformers CrossEncoder, ONNX backend", "fp32", backend="onnx"), True),
        (_st_cross_encoder(model, "sentence-transformers CrossEncoder, OpenVINO backend", "fp32",
                           backend="openvino"), True),
        (_regard_scorer(model, "fp32", "torch"), False),
        (_regard_scorer(model, "bf16", "torch"), False),
        (_regard_scorer(model, "fp32", "onnx"), True),
        (_regard_scorer(model, "int8", "onnx"), True),
    ]
    systems, skipped = [], []
    for make, optional in makers:
        try:
            label, precision, score = make()
            score(pairs[:batch_size], batch_size)
        except Exception as err:  # noqa: BLE001 - a configuration that does not install here is reported
            if not optional:
                raise
            skipped.append(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
            continue
        systems.append((label, precision, score))
        print(f"loaded {label}", flush=True)
    seconds = {label: [] for label, _, _ in systems}
    scores = {}
    for round_ in range(rounds):
        shift = round_ % len(systems)
        for label, _, score in systems[shift:] + systems[:shift]:
            started = time.perf_counter()
            scores[label] = score(pairs, batch_size)
            seconds[label].append(time.perf_counter() - started)
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in seconds.items()), flush=True)
    reference = scores[systems[0][0]]
    rows = []
    for label, precision, _ in systems:
        rows.append({"system": label, "precision": precision, "seconds": seconds[label],
                     "pairs_per_second": len(pairs) / statistics.median(seconds[label]),
                     "max_abs_logit_diff": float(np.max(np.abs(scores[label] - reference)))})
    by_name = {row["system"]: row for row in rows}
    bf16 = by_name["sentence-transformers CrossEncoder, bf16 weights"]["pairs_per_second"]
    for row in rows:
        row["speedup"] = row["pairs_per_second"] / rows[0]["pairs_per_second"]
        row["vs_st_bf16"] = row["pairs_per_second"] / bf16
    return rows, skipped


def speed_pairs(model_index, first, queries: int, depth: int) -> list[tuple[str, str]]:
    """(query, document) texts of the first ``queries`` test queries' top ``depth`` BM25 candidates."""
    from regard import load_dataset

    texts = {q.id: q.text for q in load_dataset("scifact").queries("test")}
    qids = sorted(first)[:queries]
    docs = model_index.docstore.get_many(d for q in qids for d in first.docids(q)[:depth])
    return [(texts[q], docs[d].contents) for q in qids for d in first.docids(q)[:depth]]


def markdown(result: dict) -> str:
    lines = ["# Cross-encoder benchmark (SciFact test)", "",
             f"Model: `{result['model']}`. Machine: {result['machine']}.", ""]
    q = result.get("quality")
    if q:
        lines += [f"## Quality: BM25 top {q['depth']} reranked ({q['queries']} queries, {q['pairs']} pairs, "
                  f"regard's default: {q['precision']}, {q['runtime']})", "",
                  "| pipeline | nDCG@10 | Recall@100 | MAP |", "|---|---:|---:|---:|"]
        for name, key in (("BM25 (Lucene)", "bm25"), (f"BM25 % {q['depth']} >> CrossEncoder", "reranked")):
            m = q[key]
            lines.append(f"| {name} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} | {m['map']:.4f} |")
        lines += ["", f"Reranking cost: {q['rerank_seconds_per_query']:.2f} s per query.", ""]
    lines += [f"## Speed: {result['speed_pairs']} pairs, batch {result['batch_size']}, {result['rounds']} alternating "
              "rounds (median)", "",
              "| system | precision | pairs/s | × ST fp32 | × ST bf16 weights | max logit difference vs ST fp32 |",
              "|---|---|---:|---:|---:|---:|"]
    for row in result["speed"]:
        lines.append(f"| {row['system']} | {row['precision']} | {row['pairs_per_second']:.1f} | "
                     f"{row['speedup']:.2f}× | {row['vs_st_bf16']:.2f}× | {row['max_abs_logit_diff']:.4f} |")
    if result.get("skipped"):
        lines += ["", "Not measured (could not be loaded here):"] + [f"- {why}" for why in result["skipped"]]
    if result.get("note"):
        lines += ["", result["note"]]
    lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Cross-encoder checkpoint (path or hub name).")
    parser.add_argument("--depth", type=int, default=100, help="BM25 candidates reranked per query.")
    parser.add_argument("--speed-queries", type=int, default=30, help="Queries whose top --speed-depth are timed.")
    parser.add_argument("--speed-depth", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-quality", action="store_true",
                        help="Speed only (e.g. for an untrained checkpoint, whose nDCG@10 means nothing).")
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    _use_shared_datasets()
    import platform
    import sys

    import torch

    from regard import Index, load_dataset

    with tempfile.TemporaryDirectory() as workdir:
        if args.no_quality:
            data = load_dataset("scifact")
            index = Index.build(data, Path(workdir) / "bm25", kind="bm25")
            quality_result, first = None, index.retriever(k=args.speed_depth)(data.queries("test"))
        else:
            quality_result, index, first = quality(args.model, args.depth, Path(workdir))
        pairs = speed_pairs(index, first, args.speed_queries, args.speed_depth)
        speed_rows, skipped = speed(args.model, pairs, args.batch_size, args.rounds)
    result = {"model": args.model, "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}",
              "batch_size": args.batch_size, "rounds": args.rounds, "quality": quality_result, "speed": speed_rows,
              "speed_pairs": len(pairs), "skipped": skipped, "note": args.note,
              "command": "benchmarks/cross_encoder.py " + " ".join(sys.argv[1:])}
    from report_files import write_report

    write_report(args.out_dir / "cross_encoder", result, markdown(result))


if __name__ == "__main__":
    main()
