#!/usr/bin/env python
"""Lucene BM25 batch search on several threads against one, on the same SciFact queries in one process.

regard's ``BM25`` stage over a Lucene index (BEIR "flat", k1 = 0.9, b = 0.4) searches the 300 test
queries for the top 1000, with ``threads`` = 1 and ``threads`` = ``--threads``, in alternating rounds
(1, N, 1, N, ... after one untimed warm-up round each). With ``--pyserini`` the rounds also run
pyserini's ``LuceneSearcher.batch_search`` (a ``ScoredDoc`` per hit, as regard searched before it read
hits as arrays; batches of 32 queries, cut at k in the toolkit's order) on 1 and N threads. Every
round's run must equal the first regard one-thread run (documents, order and scores). Reports the best
and median wall seconds, the median CPU seconds of the process (all its threads, the JVM's included)
and the load average before and after, and the ratio of the medians.

    nice -n 0 .venv/bin/python benchmarks/bm25_threads.py --threads 2 --rounds 7 --pyserini

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


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def pyserini_stage(index, k: int, threads: int):
    """pyserini's batch_search as regard used it before (32 queries a call, cut at k in ``ranked`` order)."""
    from regard.data.types import Run, ranked
    from regard.indexing.jvm import pyserini_lucene

    _, searcher_class = pyserini_lucene()
    searcher = searcher_class(str(index.folder / "lucene"))
    searcher.set_bm25(0.9, 0.4)

    def search(queries):
        rankings = {}
        for start in range(0, len(queries), 32):
            depth, pending, hits = k + 10, queries[start:start + 32], {}
            while pending:
                found = searcher.batch_search([q.text for q in pending], [q.id for q in pending], k=depth,
                                              threads=threads)
                hits.update({qid: [(hit.docid, hit.score) for hit in results] for qid, results in found.items()})
                pending = [q for q in pending
                           if len(hits[q.id]) >= depth > k and hits[q.id][depth - 1][1] == hits[q.id][k - 1][1]]
                depth *= 2
            rankings.update({q.id: ranked(hits[q.id])[:k] for q in queries[start:start + 32]})
        return Run(rankings)

    return search


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"# Lucene BM25 batch search: {s['threads']} threads against 1 ({s['dataset']} {s['split']}, "
             f"{s['queries']} queries, top {s['k']})", "",
             f"regard `BM25` stage over a Lucene index (BEIR flat, k1 0.9, b 0.4); {s['rounds']} timed rounds per "
             f"setting, alternating, after one warm-up round each. CPU: {report['hardware']['processor']} "
             f"({report['hardware']['cpus']} cores). Load average (1 min) {report['load_before']:.1f} before, "
             f"{report['load_after']:.1f} after.", "",
             "| search | threads | best s | median s | queries/s (median) | CPU s (median) | run equals regard's 1 thread |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['search']} | {row['threads']} | {row['best_seconds']:.3f} | {row['median_seconds']:.3f} | "
                     f"{s['queries'] / row['median_seconds']:.0f} | {row['median_cpu_seconds']:.3f} | {row['identical']} |")
    lines += ["", f"Speed-up of {s['threads']} threads (median over median): **{report['ratio']:.2f}x**."]
    if "before_ratio" in report:
        lines += [f"regard against pyserini's batch_search (what regard did before), 1 thread: "
                  f"**{report['before_ratio']:.1f}x** the queries/s."]
    if s.get("note"):
        lines += ["", s["note"]]
    flag = " --pyserini" if s.get("pyserini") else ""
    lines += ["", f"Command: `benchmarks/bm25_threads.py --threads {s['threads']} --rounds {s['rounds']}{flag}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-k", type=int, default=1000)
    parser.add_argument("--pyserini", action="store_true", help="Also time pyserini's batch_search (regard before).")
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--out", default=str(RESULTS_DIR / "bm25_threads"))
    args = parser.parse_args()
    use_shared_datasets()

    from regard import load_dataset

    dataset = load_dataset(args.dataset)
    queries = dataset.queries(args.split)
    index = open_or_build(dataset, "bm25")
    stages = {("regard", n): index.retriever(k=args.k, threads=n) for n in (1, args.threads)}
    if args.pyserini:
        stages.update({("pyserini batch_search", n): pyserini_stage(index, args.k, n) for n in (1, args.threads)})
    load_before = os.getloadavg()[0]
    reference = stages["regard", 1](queries)
    for key, stage in stages.items():
        if key != ("regard", 1):
            stage(queries)
    seconds: dict = {key: [] for key in stages}
    cpu: dict = {key: [] for key in stages}
    identical = {key: True for key in stages}
    for _ in range(args.rounds):
        for key, stage in stages.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            run = stage(queries)
            seconds[key].append(time.perf_counter() - started)
            cpu[key].append(time.process_time() - started_cpu)
            identical[key] &= _same(run, reference)
    rows = [{"search": key[0], "threads": key[1], "seconds": seconds[key], "cpu_seconds": cpu[key],
             "best_seconds": min(seconds[key]), "median_seconds": statistics.median(seconds[key]),
             "median_cpu_seconds": statistics.median(cpu[key]), "identical": identical[key]} for key in stages]
    median = {key: statistics.median(seconds[key]) for key in stages}
    report = {
        "settings": {"dataset": args.dataset, "split": args.split, "queries": len(queries), "k": args.k,
                     "threads": args.threads, "rounds": args.rounds, "backend": "lucene", "pyserini": args.pyserini,
                     "note": args.note},
        "hardware": {"processor": _cpu_model(), "cpus": os.cpu_count()},
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "rows": rows,
        "ratio": median["regard", 1] / median["regard", args.threads],
    }
    if args.pyserini:
        report["before_ratio"] = median["pyserini batch_search", 1] / median["regard", 1]
    write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
