#!/usr/bin/env python
"""DSE benchmark on SciFact test: the distilled student as a dense retriever against its base and teacher.

Quality: BM25, the base bi-encoder, the student (both as full dense retrievers), and the teacher
reranking BM25's top 100; the fraction of the teacher's gain over BM25 that the student keeps.
Cost per query-document pair, same run: the teacher runs one cross-encoder forward pass per pair;
the student encodes the query once and takes one inner product per document (documents are encoded
at index time, reported separately).

    .venv/bin/python benchmarks/distill.py --teacher models/scifact-ce --student models/scifact-dse
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
BASE = "sentence-transformers/all-MiniLM-L6-v2"
METRICS = ["ndcg@10", "recall@100", "map"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--student", required=True)
    parser.add_argument("--depth", type=int, default=100, help="BM25 candidates the teacher reranks.")
    parser.add_argument("--cost-queries", type=int, default=20, help="Queries whose teacher cost is timed.")
    parser.add_argument("--full-teacher", action="store_true",
                        help="Rerank all test queries with the teacher even if cross_encoder.json has the figure.")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if not os.environ.get("REGARD_DATA") and shared.is_dir():
        os.environ["REGARD_DATA"] = str(shared)

    from regard import Index, evaluate, load_dataset
    from regard.rerank.cross_encoder import CrossEncoder

    data = load_dataset("scifact")
    queries, qrels = data.queries("test"), data.qrels("test")
    rows, cost = {}, {}
    with tempfile.TemporaryDirectory() as workdir:
        bm25_index = Index.build(data, Path(workdir) / "bm25", kind="bm25")
        bm25 = bm25_index.retriever()
        first = bm25(queries)
        rows["BM25"] = evaluate(first, qrels, METRICS)
        for name, model in (("base bi-encoder", BASE), ("DSE student", args.student)):
            started = time.perf_counter()
            index = Index.build(data, Path(workdir) / name.replace(" ", "-"), kind="dense", model=model)
            build = time.perf_counter() - started
            dense = index.retriever()
            started = time.perf_counter()
            run = dense(queries)
            search = time.perf_counter() - started
            rows[name] = evaluate(run, qrels, METRICS)
            if name == "DSE student":
                pairs = len(queries) * index.manifest.document_count
                cost["student"] = {"seconds_per_pair_online": search / pairs, "index_build_seconds": build,
                                   "documents": index.manifest.document_count}
        teacher = CrossEncoder(bm25_index, args.teacher, cache=False)
        measured = RESULTS_DIR / "cross_encoder.json"
        previous = json.loads(measured.read_text()) if measured.exists() else {}
        subset = queries if args.full_teacher else queries[:args.cost_queries]
        started = time.perf_counter()
        reranked = teacher(subset, first.cut(args.depth))
        seconds = time.perf_counter() - started
        pairs = sum(len(first.cut(args.depth)[q.id]) for q in subset)
        cost["teacher"] = {"seconds_per_pair": seconds / pairs, "pairs": pairs}
        if args.full_teacher or previous.get("model") != args.teacher:
            rows[f"teacher: BM25 % {args.depth} >> CE"] = evaluate(teacher(queries, first.cut(args.depth)), qrels,
                                                                   METRICS)
        else:  # the same teacher's full reranking figure from benchmarks/cross_encoder.py
            rows[f"teacher: BM25 % {args.depth} >> CE"] = previous["quality"]["reranked"]
    teacher_key = f"teacher: BM25 % {args.depth} >> CE"
    gain = rows[teacher_key]["ndcg@10"] - rows["BM25"]["ndcg@10"]
    kept = (rows["DSE student"]["ndcg@10"] - rows["BM25"]["ndcg@10"]) / gain if gain else float("nan")
    ratio = cost["teacher"]["seconds_per_pair"] / cost["student"]["seconds_per_pair_online"]
    result = {"teacher": args.teacher, "student": args.student, "quality": rows, "cost": cost,
              "fraction_of_teacher_gain_kept": kept, "teacher_to_student_cost_ratio": ratio}
    lines = ["# DSE benchmark (SciFact test, 300 queries)", "",
             f"Teacher `{args.teacher}`, student `{args.student}` (base `{BASE}`).", "",
             "| system | nDCG@10 | Recall@100 | MAP |", "|---|---:|---:|---:|"]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} | {m['map']:.4f} |")
    lines += ["", f"Fraction of the teacher's nDCG@10 gain over BM25 kept by the student: {kept:.2f}.", "",
              f"Scoring cost per query-document pair: teacher {cost['teacher']['seconds_per_pair'] * 1e3:.3f} ms; "
              f"student {cost['student']['seconds_per_pair_online'] * 1e6:.3f} µs online (query encoding and "
              f"exhaustive inner products over all {cost['student']['documents']} documents), "
              f"{ratio:,.0f}× cheaper; the student's corpus encoding took "
              f"{cost['student']['index_build_seconds']:.0f} s once, at index time."]
    text = "\n".join(lines) + "\n"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "distill.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out_dir / "distill.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
