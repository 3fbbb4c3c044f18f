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
        "bm25": evaluate(first, qrels, METRICS),
        "reranked": evaluate(reranked, qrels, METRICS),
        "rerank_seconds_per_query": seconds / len(queries),
        "pairs": sum(len(first.cut(depth)[q.id]) for q in queries),
    }, index, first


def speed(model: str, index, first, queries: int, depth: int, batch_size: int) -> list[dict]:
    """Pairs/s of regard's scorer and of sentence-transformers' predict on the same pairs."""
    from sentence_transformers import CrossEncoder as STCrossEncoder

    from regard import load_dataset
    from regard.rerank.cross_encoder import PairScorer

    texts = {q.id: q.text for q in load_dataset("scifact").queries("test")}
    qids = sorted(first)[:queries]
    docs = index.docstore.get_many(d for q in qids for d in first.docids(q)[:depth])
    pairs = [(texts[q], docs[d].contents) for q in qids for d in first.docids(q)[:depth]]
    rows = []
    st = STCrossEncoder(model, device="cpu")
    st.predict(pairs[:batch_size], batch_size=batch_size)
    seconds, reference = timed(lambda: st.predict(pairs, batch_size=batch_size, show_progress_bar=False))
    rows.append({"system": "sentence-transformers CrossEncoder.predict", "precision": "fp32",
                 "pairs_per_second": len(pairs) / seconds, "max_abs_logit_diff": 0.0})
    reference_logits = np.log(reference / (1 - reference))  # predict applies a sigmoid to the one logit
    for precision in ("fp32", "auto"):
        scorer = PairScorer.load(model, precision=precision, batch_size=batch_size, device="cpu")
        scorer.score(*zip(*pairs[:batch_size]))
        seconds, ours = timed(lambda: scorer.score([q for q, _ in pairs], [d for _, d in pairs]))
        rows.append({"system": "regard PairScorer", "precision": scorer.precision,
                     "pairs_per_second": len(pairs) / seconds,
                     "max_abs_logit_diff": float(np.max(np.abs(ours - reference_logits)))})
    base = rows[0]["pairs_per_second"]
    for row in rows:
        row["speedup"] = row["pairs_per_second"] / base
    return rows, len(pairs)


def markdown(result: dict) -> str:
    q = result["quality"]
    lines = [
        "# Cross-encoder benchmark (SciFact test)", "",
        f"Model: `{result['model']}`. Machine: {result['machine']}.", "",
        f"## Quality: BM25 top {q['depth']} reranked ({q['queries']} queries, {q['pairs']} pairs, {q['precision']})", "",
        "| pipeline | nDCG@10 | Recall@100 | MAP |", "|---|---:|---:|---:|",
    ]
    for name, key in (("BM25 (Lucene)", "bm25"), (f"BM25 % {q['depth']} >> CrossEncoder", "reranked")):
        m = q[key]
        lines.append(f"| {name} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} | {m['map']:.4f} |")
    lines += ["", f"Reranking cost: {q['rerank_seconds_per_query']:.2f} s per query.", "",
              f"## Speed: {result['speed_pairs']} pairs, batch {result['batch_size']}", "",
              "| system | precision | pairs/s | × sentence-transformers | max logit difference |",
              "|---|---|---:|---:|---:|"]
    for row in result["speed"]:
        lines.append(f"| {row['system']} | {row['precision']} | {row['pairs_per_second']:.1f} | "
                     f"{row['speedup']:.2f}× | {row['max_abs_logit_diff']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Cross-encoder checkpoint (path or hub name).")
    parser.add_argument("--depth", type=int, default=100, help="BM25 candidates reranked per query.")
    parser.add_argument("--speed-queries", type=int, default=30, help="Queries whose top --speed-depth are timed.")
    parser.add_argument("--speed-depth", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    _use_shared_datasets()
    import platform

    import torch

    with tempfile.TemporaryDirectory() as workdir:
        quality_result, index, first = quality(args.model, args.depth, Path(workdir))
        speed_rows, pair_count = speed(args.model, index, first, args.speed_queries, args.speed_depth, args.batch_size)
    result = {"model": args.model, "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, torch {torch.__version__}", "batch_size": args.batch_size,
              "quality": quality_result, "speed": speed_rows, "speed_pairs": pair_count}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "cross_encoder.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (args.out_dir / "cross_encoder.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
