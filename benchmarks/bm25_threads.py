#!/usr/bin/env python
"""Lucene BM25 batch search on several threads against one, on the same SciFact queries in one process.

regard's ``BM25`` stage over a Lucene index (BEIR "flat", k1 = 0.9, b = 0.4) searches the 300 test
queries for the top 1000, with ``threads`` = 1 and ``threads`` = ``--threads``, in alternating rounds
(1, N, 1, N, ... after one untimed warm-up round each). Every round's run must equal the first
one-thread run (documents, order and scores). Reports the best and median seconds of each and the
ratio of the medians.

    nice -n 5 .venv/bin/python benchmarks/bm25_threads.py --threads 2 --rounds 7

Writes benchmarks/results/bm25_threads.json and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from report_files import RESULTS_DIR, open_or_build, use_shared_datasets, write_report


def _same(run, reference) -> bool:
    return list(run) == list(reference) and all(run[q] == reference[q] for q in reference)


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"# Lucene BM25 batch search: {s['threads']} threads against 1 ({s['dataset']} {s['split']}, "
             f"{s['queries']} queries, top {s['k']})", "",
             f"regard `BM25` stage over a Lucene index (BEIR flat, k1 0.9, b 0.4); {s['rounds']} timed rounds per "
             f"setting, alternating, after one warm-up round each. CPU: {report['hardware']['processor']} "
             f"({report['hardware']['cpus']} cores).", "",
             "| threads | best s | median s | queries/s (median) | run equals 1 thread |", "|---:|---:|---:|---:|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['threads']} | {row['best_seconds']:.3f} | {row['median_seconds']:.3f} | "
                     f"{s['queries'] / row['median_seconds']:.0f} | {row['identical']} |")
    lines += ["", f"Speed-up of {s['threads']} threads (median over median): **{report['ratio']:.2f}x**."]
    if s.get("note"):
        lines += ["", s["note"]]
    lines += ["", f"Command: `benchmarks/bm25_threads.py --threads {s['threads']} --rounds {s['rounds']}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-k", type=int, default=1000)
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--out", default=str(RESULTS_DIR / "bm25_threads"))
    args = parser.parse_args()
    use_shared_datasets()

    from regard import load_dataset

    dataset = load_dataset(args.dataset)
    queries = dataset.queries(args.split)
    index = open_or_build(dataset, "bm25")
    stages = {n: index.retriever(k=args.k, threads=n) for n in (1, args.threads)}
    reference = stages[1](queries)
    stages[args.threads](queries)
    seconds: dict[int, list[float]] = {n: [] for n in stages}
    identical = {n: True for n in stages}
    for _ in range(args.rounds):
        for n, stage in stages.items():
            started = time.perf_counter()
            run = stage(queries)
            seconds[n].append(time.perf_counter() - started)
            identical[n] &= _same(run, reference)
    rows = [{"threads": n, "seconds": seconds[n], "best_seconds": min(seconds[n]),
             "median_seconds": statistics.median(seconds[n]), "identical": identical[n]} for n in stages]
    report = {
        "settings": {"dataset": args.dataset, "split": args.split, "queries": len(queries), "k": args.k,
                     "threads": args.threads, "rounds": args.rounds, "backend": "lucene", "note": args.note},
        "hardware": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "rows": rows,
        "ratio": rows[0]["median_seconds"] / rows[1]["median_seconds"],
    }
    write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
