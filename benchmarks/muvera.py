#!/usr/bin/env python
"""MUVERA benchmark: FDE candidates + exact MaxSim rerank against exhaustive MaxSim, on BEIR SciFact test.

The multi-vector model is all-MiniLM-L6-v2's token embeddings (384-d, one per token, documents up to
256 tokens, bf16 encoding where the CPU has it): no ColBERT checkpoint is installable offline. The
exhaustive MaxSim retriever over the memory-mapped float16 token store is the ground truth. For each
FDE setting (k_sim, d_proj, R_reps) a ``muvera`` index is built (token store shared through the cache)
and searched at rerank depths N = 100, 150, 200 on the test queries. Reported per row:

- recall of the exhaustive MaxSim top-10 / top-100 in MUVERA's final top-10 / top-100 (with exact
  reranking these equal the share of the true top documents among the N candidates);
- nDCG@10 and Recall@100 against the qrels, FDE-only nDCG@10 (no rerank), FDE memory;
- search seconds per query from encoded query token vectors (query FDEs, FAISS search, MaxSim
  rerank), measured in the same run as the exhaustive retriever's; query token encoding is the same
  for both and is timed once and reported separately.

Token stores: the exhaustive retriever also runs over an int8 store (a scale per token vector) of the
same vectors; its top-10 / top-100 recall against the float16 exhaustive ranking, nDCG@10, size on
disk and scan time are reported. Each MUVERA row names its token store (float16 or int8) and whether
its FDEs are product-quantised (``fde_pq``).

Head to head: the speed claim is a ratio measured inside this process with alternating rounds on the
first ``--h2h-queries`` queries: exhaustive MaxSim over the float16 store at each thread count, then
the chosen MUVERA setting (the fastest row meeting the target, else the most accurate at N = 200), in
turns, ``--h2h-rounds`` times; the best of each is compared.

A separate search process per retriever measures peak resident memory (VmHWM) and how much of it is
the memory-mapped token store (file-backed pages) rather than the process's own (anonymous) memory.

Results go to ``benchmarks/results/muvera.{json,md}`` (``muvera-first<N>`` with ``--first-queries N``,
``-partial`` with ``--quick``); the Markdown is also printed.

    nice -n 19 .venv/bin/python benchmarks/muvera.py            # full run
    nice -n 19 .venv/bin/python benchmarks/muvera.py --quick    # two settings, for a check
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import RESULTS_DIR, configure_data_path, log, machine_info  # noqa: E402

NAME = "muvera"
DATASET, SPLIT = "scifact", "test"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEPTHS = (100, 150, 200)
PAPER = (5, 16, 20)  # k_sim, d_proj, R_reps: 20 x 2^5 x 16 = 10,240 dimensions
# (k_sim, d_proj, R_reps, token store, fde_pq)
SETTINGS = ((*PAPER, "float16", False), (*PAPER, "int8", False), (*PAPER, "int8", True), (5, 32, 20, "int8", False))
QUICK_SETTINGS = ((*PAPER, "float16", False), (*PAPER, "int8", False))
METRICS = ("ndcg@10", "recall@100")
TARGET_RECALL, TARGET_DEPTH, TARGET_TIME_RATIO = 0.95, 200, 0.1


def timed(function, *args, **kwargs) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def best_of(rounds: int, function, *args) -> tuple[float, Any]:
    """The fastest of ``rounds`` calls, and its result."""
    runs = [timed(function, *args) for _ in range(rounds)]
    return min(runs, key=lambda r: r[0])


def memory_status() -> dict[str, float]:
    """Peak and current resident memory of this process, in MiB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def evaluate(run, qrels) -> dict[str, float]:
    from regard import evaluate as regard_evaluate

    return {name: round(value, 4) for name, value in regard_evaluate(run, qrels, METRICS).items()}


def overlap(run, truth: dict[str, list[str]], depth: int) -> float:
    """Mean share of each query's exhaustive top-``depth`` found in ``run``'s top-``depth``."""
    shares = [len(set(run.docids(q)[:depth]) & set(ids[:depth])) / min(depth, len(ids)) for q, ids in truth.items()]
    return round(float(np.mean(shares)), 4)


# --------------------------------------------------------------------------------------------------
# The search process (peak memory)


def search_process(folder: str, candidates: int, limit: int | None) -> None:
    """Open an index, search the test queries once, print time and memory as JSON (run as a subprocess)."""
    from regard import Index, load_dataset

    configure_data_path()
    queries = load_dataset(DATASET).queries(SPLIT)[:limit]
    before = memory_status()
    index = Index.open(folder)
    options = {"candidates": candidates} if index.manifest.kind == "muvera" else {}
    stage = index.retriever(k=100, **options)
    seconds, run = timed(stage, queries)
    print(json.dumps({"kind": index.manifest.kind, "seconds": round(seconds, 3), "queries": len(run),
                      "before_open": before, "after_search": memory_status()}))


def measure_search_process(folder: Path, candidates: int, queries: int | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--search-process", str(folder), "--candidates", str(candidates)]
    command += ["--queries", str(queries)] if queries else []
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# The benchmark


def setting_folder(workdir: Path, setting: tuple, faiss_type: str = "flat") -> Path:
    k_sim, d_proj, r_reps, store, fde_pq = setting
    return workdir / f"muvera-{k_sim}-{d_proj}-{r_reps}-{store}-{'pq' if fde_pq else faiss_type}"


def run_setting(data, workdir: Path, setting: tuple, queries, vectors, truth, qrels,
                faiss_type: str = "flat", rounds: int = 2) -> dict[str, Any]:
    from regard import Index

    k_sim, d_proj, r_reps, store, fde_pq = setting
    log(f"MUVERA k_sim={k_sim} d_proj={d_proj} R_reps={r_reps} ({faiss_type}, {store} store, fde_pq={fde_pq})")
    index = Index.build(data, setting_folder(workdir, setting, faiss_type), kind="muvera",
                        model=MODEL, k_sim=k_sim, d_proj=d_proj, r_reps=r_reps, faiss_type=faiss_type,
                        token_store=store, fde_pq=fde_pq, overwrite=True)
    params = index.manifest.parameters
    stage = index.retriever(k=100, rerank=False)
    fde_only = stage.retrieve(queries, vectors)
    stage.rerank_candidates = True
    row: dict[str, Any] = {
        "k_sim": k_sim, "d_proj": d_proj, "r_reps": r_reps, "faiss": "pq" if fde_pq else faiss_type,
        "token_store": store, "fde_pq": fde_pq, "folder": str(index.folder),
        "fde_dimension": params["faiss"]["dimension"], "fde_mib": round(params["fde_bytes"] / 2**20, 1),
        "build_seconds": index.manifest.build_seconds, "fde_only": evaluate(fde_only, qrels),
        "fde_only_recall_top10": overlap(fde_only, truth, 10), "depths": [],
    }
    for depth in DEPTHS:
        stage.candidates = depth
        seconds, run = best_of(rounds, stage.retrieve, queries, vectors)
        row["depths"].append({
            "candidates": depth, "recall_top10": overlap(run, truth, 10), "recall_top100": overlap(run, truth, 100),
            **evaluate(run, qrels), "seconds_per_query": seconds / len(queries),
        })
    return row


def set_threads(count: int) -> None:
    """Threads for torch (matrix products) and FAISS (OpenMP)."""
    import faiss
    import torch

    torch.set_num_threads(count)
    faiss.omp_set_num_threads(count)


def exhaustive_int8(data, workdir: Path, queries, vectors, qrels, truth, threads: int) -> dict[str, Any]:
    """Exhaustive MaxSim over an int8 store of the same vectors, against the float16 ranking."""
    from regard import Index

    log(f"exhaustive MaxSim over the int8 store, {threads} thread(s)")
    index = Index.build(data, workdir / "multivector-int8", kind="multivector", model=MODEL, token_store="int8",
                        overwrite=True)
    set_threads(threads)
    stage = index.retriever(k=1000)
    seconds, run = timed(stage.retrieve, queries, vectors)
    params = index.manifest.parameters
    return {"token_store": "int8", **evaluate(run, qrels), "recall_top10": overlap(run, truth, 10),
            "recall_top100": overlap(run, truth, 100), "seconds_per_query": seconds / len(queries),
            "threads": threads, "store_mib": round(params["store_bytes"] / 2**20, 1),
            "build_seconds": index.manifest.build_seconds}


def chosen_row(report: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The MUVERA row and depth for the head-to-head: the fastest with the target recall, else the best at N=200."""
    meeting = [(d["seconds_per_query"], row, d["candidates"]) for row in report["muvera"] for d in row["depths"]
               if d["candidates"] <= TARGET_DEPTH and d["recall_top10"] >= TARGET_RECALL]
    if meeting:
        _, row, depth = min(meeting, key=lambda m: m[0])
        return row, depth
    best = max(((d["recall_top10"], row) for row in report["muvera"] for d in row["depths"]
                if d["candidates"] == TARGET_DEPTH), key=lambda m: m[0])
    return best[1], TARGET_DEPTH


def head_to_head(exhaustive_index, row: dict[str, Any], depth: int, queries, vectors, thread_counts: list[int],
                 rounds: int, muvera_threads: int) -> dict[str, Any]:
    """Exhaustive (float16, each thread count) and MUVERA (``row`` at ``depth``) in alternating rounds."""
    from regard import Index

    exhaustive = exhaustive_index.retriever(k=1000)
    muvera = Index.open(row["folder"]).retriever(k=100, candidates=depth)
    times: dict[str, list[float]] = {f"exhaustive {t}": [] for t in thread_counts} | {"muvera": []}
    for number in range(rounds):
        for count in thread_counts:
            log(f"head to head, round {number + 1}: exhaustive, {count} thread(s)")
            set_threads(count)
            times[f"exhaustive {count}"].append(timed(exhaustive.retrieve, queries, vectors)[0] / len(queries))
        log(f"head to head, round {number + 1}: MUVERA, {muvera_threads} thread(s)")
        set_threads(muvera_threads)
        times["muvera"].append(timed(muvera.retrieve, queries, vectors)[0] / len(queries))
    best_exhaustive = min(min(v) for k, v in times.items() if k != "muvera")
    return {"setting": f"k_sim={row['k_sim']}, d_proj={row['d_proj']}, R_reps={row['r_reps']}, {row['faiss']}, "
                       f"{row['token_store']} store, N={depth}",
            "queries": len(queries), "rounds": rounds, "seconds_per_query": times,
            "ratio": round(min(times["muvera"]) / best_exhaustive, 4)}


def exhaustive_reference(data, workdir: Path, queries, qrels,
                         thread_counts: list[int]) -> tuple[dict[str, Any], Any, dict, Any]:
    from regard import Index

    log("multivector index (token store, cached after the first run)")
    index = Index.build(data, workdir / "multivector", kind="multivector", model=MODEL, overwrite=True)
    stage = index.retriever(k=1000, progress=True)
    encode_seconds, vectors = best_of(2, stage.encode_queries, queries)
    by_threads = {}
    for count in thread_counts:
        log(f"exhaustive MaxSim over every document, {count} thread(s)")
        set_threads(count)
        by_threads[count], run = timed(stage.retrieve, queries, vectors)
    seconds = min(by_threads.values())
    truth = {q.id: run.docids(q.id)[:100] for q in queries}
    params = index.manifest.parameters
    reference = {
        **evaluate(run, qrels), "seconds_per_query": seconds / len(queries), "seconds": round(seconds, 2),
        "query_encoding_seconds_per_query": encode_seconds / len(queries),
        "seconds_per_query_by_threads": {str(t): v / len(queries) for t, v in by_threads.items()},
        "query_tokens_mean": round(float(vectors.lengths.mean()), 1), "maxsim_precision": stage.precision,
        "token_count": params["token_count"], "store_mib": round(params["store_bytes"] / 2**20, 1),
        "token_encoder": params["token_encoder"], "build_seconds": index.manifest.build_seconds,
    }
    return reference, vectors, truth, index


def markdown(report: dict[str, Any]) -> str:
    ref, info = report["exhaustive"], report["machine"]
    lines = [
        "# MUVERA benchmark", "",
        f"{info['date']} · {info['cpu_model']} · {info['cpu_count']} cores ({', '.join(info['cpu_flags'])}) · "
        f"load average {report['load_average']['start']} at start, {report['load_average']['end']} at end "
        "(the CPU is shared; other processes skew the timings)", "",
        f"BEIR SciFact test ({report['queries']} queries, {report['documents']:,} documents); multi-vector model: "
        f"{MODEL} token embeddings ({ref['token_encoder']['dimension']}-d, documents up to "
        f"{ref['token_encoder']['document_max_length']} tokens, {ref['token_encoder']['precision']} encoding); "
        f"{ref['token_count']:,} document tokens in a {ref['store_mib']:,} MiB float16 memory-mapped store; "
        f"{ref['query_tokens_mean']} tokens per query on average. MaxSim arithmetic: "
        f"{ref['maxsim_precision']} (the same for the exhaustive retriever and the rerank).", "",
        "## Exhaustive MaxSim (ground truth)", "",
        "| nDCG@10 | Recall@100 | search s/query (best) | by torch threads | query encoding s/query |",
        "|---:|---:|---:|---|---:|",
        f"| {ref['ndcg@10']:.4f} | {ref['recall@100']:.4f} | {ref['seconds_per_query']:.4f} | "
        + ", ".join(f"{t}: {v:.4f}" for t, v in ref["seconds_per_query_by_threads"].items())
        + f" | {ref['query_encoding_seconds_per_query']:.4f} |", "",
        "All queries in one call: the store is read once, in chunks, with every query token of a batch in one "
        "matrix product. The fastest thread count is the reference.", "",
    ]
    if report.get("int8"):
        i8 = report["int8"]
        lines += [
            "## Token store formats (exhaustive MaxSim)", "",
            "Recall@10 / @100 = share of the float16 exhaustive top-10 / top-100 in the int8 exhaustive top-10 / "
            "top-100 (same token vectors, same queries).", "",
            "| store | MiB on disk | Recall@10 | Recall@100 | nDCG@10 | Recall@100 (qrels) | s/query |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| float16 | {ref['store_mib']:,} | 1.000 | 1.000 | {ref['ndcg@10']:.4f} | {ref['recall@100']:.4f} | "
            f"{ref['seconds_per_query']:.4f} |",
            f"| int8 (scale per token) | {i8['store_mib']:,} | {i8['recall_top10']:.3f} | {i8['recall_top100']:.3f} | "
            f"{i8['ndcg@10']:.4f} | {i8['recall@100']:.4f} | {i8['seconds_per_query']:.4f} |", "",
            f"int8 timed at {i8['threads']} thread(s), after the float16 runs (not alternated; a scan costs the same "
            "matrix products either way).", "",
        ]
    lines += [
        "## MUVERA: FDE candidates (FAISS) reranked by exact MaxSim", "",
        "Recall@10 / @100 = share of the exhaustive MaxSim top-10 / top-100 in MUVERA's top-10 / top-100. "
        "Time = search seconds per query from encoded query tokens (FDE, FAISS, rerank), best of "
        f"{report['rounds']}, {report['threads']} torch/FAISS thread(s); × exh. = that time over the exhaustive "
        "search time per query (its best thread count).", "",
        "| k_sim | d_proj | R_reps | FAISS | tokens | FDE dim | FDE MiB | FDE-only nDCG@10 | N | Recall@10 "
        "| Recall@100 | nDCG@10 | Recall@100 (qrels) | s/query | × exh. |",
        "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["muvera"]:
        for d in row["depths"]:
            ratio = d["seconds_per_query"] / ref["seconds_per_query"]
            lines.append(
                f"| {row['k_sim']} | {row['d_proj']} | {row['r_reps']} | {row['faiss']} | "
                f"{row.get('token_store', 'float16')} | {row['fde_dimension']:,} | "
                f"{row['fde_mib']} | {row['fde_only']['ndcg@10']:.4f} | {d['candidates']} | {d['recall_top10']:.3f} | "
                f"{d['recall_top100']:.3f} | {d['ndcg@10']:.4f} | {d['recall@100']:.4f} | "
                f"{d['seconds_per_query']:.4f} | {ratio:.3f} |")
    target = report["target"]
    lines += ["", f"Target: ≥ {TARGET_RECALL} of the exhaustive top-10 with N ≤ {TARGET_DEPTH} at ≤ "
              f"{TARGET_TIME_RATIO}× the exhaustive time per query: **{'met' if target['met'] else 'not met'}**"
              + (f" (first: {target['setting']})" if target["met"] else "") + "."]
    if report.get("head_to_head"):
        h2h = report["head_to_head"]
        lines += ["", "## Head to head (alternating rounds, one process)", "",
                  f"First {h2h['queries']} queries, {h2h['rounds']} rounds; each round runs exhaustive MaxSim (float16 "
                  f"store) at each thread count, then MUVERA ({h2h['setting']}). Seconds per query:", "",
                  "| retriever | " + " | ".join(f"round {i + 1}" for i in range(h2h["rounds"])) + " | best |",
                  "|---|" + "---:|" * (h2h["rounds"] + 1)]
        for name, values in h2h["seconds_per_query"].items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values) + f" | {min(values):.4f} |")
        lines += ["", f"MUVERA / best exhaustive: **{h2h['ratio']:.3f}×**."]
    encode = ref["query_encoding_seconds_per_query"]
    lines += ["", f"With query token encoding added ({encode:.4f} s/query, the same for both), the exhaustive "
              f"retriever takes {ref['seconds_per_query'] + encode:.4f} s/query end to end."]
    if report.get("memory"):
        lines += ["", "## Peak memory of a search process", "",
                  "One fresh process per index opens it and searches the test queries once (k = 100). "
                  "RssFile counts pages of the memory-mapped files (token store, FAISS file) that were read; "
                  "the kernel can drop them at any time. RssAnon is the process's own memory.", "",
                  "| index | search s | peak RSS (VmHWM) MiB | RSS after MiB | RssAnon MiB | RssFile MiB |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, m in report["memory"].items():
            after = m["after_search"]
            lines.append(f"| {name} | {m['seconds']} | {after['VmHWM']} | {after['VmRSS']} | {after['RssAnon']} | "
                         f"{after['RssFile']} |")
    lines += ["", f"Wall time: {report['wall_seconds']:.0f} s. Command: `{report['command']}`", ""]
    return "\n".join(lines)


def find_target(report: dict[str, Any]) -> dict[str, Any]:
    exhaustive = report["exhaustive"]["seconds_per_query"]
    for row in report["muvera"]:
        for d in row["depths"]:
            if (d["candidates"] <= TARGET_DEPTH and d["recall_top10"] >= TARGET_RECALL
                    and d["seconds_per_query"] <= TARGET_TIME_RATIO * exhaustive):
                return {"met": True, "setting": f"k_sim={row['k_sim']}, d_proj={row['d_proj']}, "
                        f"R_reps={row['r_reps']}, {row['faiss']}, {row.get('token_store', 'float16')} store, "
                        f"N={d['candidates']}"}
    return {"met": False}


def parse_settings(texts: list[str]) -> list[tuple]:
    """``5,32,20,int8[,pq]`` -> (k_sim, d_proj, R_reps, token store, fde_pq)."""
    settings = []
    for text in texts:
        parts = text.split(",")
        settings.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3], parts[4:] == ["pq"]))
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two FDE settings only (results -partial)")
    parser.add_argument("--first-queries", type=int, default=None,
                        help="only the first N test queries, for a check (results -partial)")
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds per MUVERA search (best reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch and FAISS threads for MUVERA searches")
    parser.add_argument("--exhaustive-threads", default="1,2",
                        help="thread counts to time exhaustive MaxSim with (the fastest is the reference)")
    parser.add_argument("--no-hnsw", action="store_true", help="skip the HNSW row of the paper setting")
    parser.add_argument("--no-memory", action="store_true", help="skip the search-process memory measurement")
    parser.add_argument("--no-int8", action="store_true", help="skip the exhaustive scan over an int8 store")
    parser.add_argument("--setting", action="append", default=None, metavar="K,D,R,STORE[,pq]",
                        help="an FDE setting to run instead of the default list (repeatable), e.g. 5,32,20,int8")
    parser.add_argument("--h2h-queries", type=int, default=30,
                        help="queries of the alternating head-to-head timing (0: skip it)")
    parser.add_argument("--h2h-rounds", type=int, default=2, help="alternating rounds of the head-to-head")
    parser.add_argument("--h2h-threads", default="1,2", help="exhaustive thread counts of the head-to-head")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--search-process", help=argparse.SUPPRESS)
    parser.add_argument("--candidates", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.search_process:
        search_process(args.search_process, args.candidates, args.queries)
        return 0

    import os

    from regard import load_dataset

    started = time.perf_counter()
    configure_data_path()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    data = load_dataset(DATASET)
    queries = data.queries(SPLIT)[:args.first_queries]
    qrels = data.qrels(SPLIT).restricted_to(q.id for q in queries)
    report: dict[str, Any] = {"machine": machine_info(), "queries": len(queries), "rounds": args.rounds,
                              "threads": args.threads,
                              "command": "nice -n 19 .venv/bin/python benchmarks/muvera.py"
                              + (" " + " ".join(argv if argv is not None else sys.argv[1:]))}
    with tempfile.TemporaryDirectory(prefix="regard-muvera-") as tmp:
        workdir = Path(tmp)
        thread_counts = [int(t) for t in args.exhaustive_threads.split(",")]
        reference, vectors, truth, exhaustive_index = exhaustive_reference(data, workdir, queries, qrels,
                                                                           thread_counts)
        report["exhaustive"], report["documents"] = reference, exhaustive_index.manifest.document_count
        if not args.no_int8:
            best = int(min(reference["seconds_per_query_by_threads"].items(), key=lambda item: item[1])[0])
            report["int8"] = exhaustive_int8(data, workdir, queries, vectors, qrels, truth, best)
        set_threads(args.threads)
        report["muvera"] = [run_setting(data, workdir, s, queries, vectors, truth, qrels, rounds=args.rounds)
                            for s in (parse_settings(args.setting) if args.setting
                                      else QUICK_SETTINGS if args.quick else SETTINGS)]
        if not args.no_hnsw:
            report["muvera"].append(run_setting(data, workdir, (*PAPER, "float16", False), queries, vectors, truth,
                                                qrels, "hnsw", rounds=args.rounds))
        report["target"] = find_target(report)
        if args.h2h_queries:
            row, depth = chosen_row(report)
            subset = queries[:args.h2h_queries]
            sub_vectors = exhaustive_index.retriever(k=1).encode_queries(subset)
            report["head_to_head"] = head_to_head(exhaustive_index, row, depth, subset, sub_vectors,
                                                  [int(t) for t in args.h2h_threads.split(",")], args.h2h_rounds,
                                                  args.threads)
        paper = setting_folder(workdir, (*PAPER, "float16", False))
        if not args.no_memory:
            log("search processes for peak memory")
            report["memory"] = {
                "muvera (paper setting, N=200)": measure_search_process(paper, 200),
                "multivector (exhaustive MaxSim, first 30 queries)": measure_search_process(
                    exhaustive_index.folder, 200, 30),
            }
    report["load_average"] = {"start": load_start, "end": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    report["wall_seconds"] = time.perf_counter() - started
    text = markdown(report)
    stem = NAME + ("-partial" if args.quick else f"-first{args.first_queries}" if args.first_queries else "")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
