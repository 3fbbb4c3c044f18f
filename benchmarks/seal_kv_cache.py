#!/usr/bin/env python
"""SEAL constrained decoding with a shared KV cache against full recomputation, on the same SciFact queries.

For each of the first ``--queries`` judged test queries both decoders run in one process, alternating
which goes first: the cached decoder (prompt encoded once, beams extend the KV cache by one token per
step) and the recomputing one (prompt + n-gram re-run for every beam at every step, batched
``--batch-size`` at a time, as before the cache). It checks that both keep the same n-grams with the
same suffix-array ranges and log-probabilities within ``--tolerance``, and reports seconds per query of
each and their ratio (the sum of the recomputing decoder's seconds over the sum of the cached one's).

    OMP_NUM_THREADS=2 nice -n 5 .venv/bin/python benchmarks/seal_kv_cache.py --queries 50

Writes benchmarks/results/seal_kv_cache.json and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from report_files import RESULTS_DIR, open_or_build, use_shared_datasets, write_report


def _timed(decoder, text: str):
    started = time.perf_counter()
    generated = decoder.generate(text)
    return generated, time.perf_counter() - started


def _differences(cached, recomputed, tolerance: float) -> str | None:
    """Why two generations differ, or None when they agree."""
    if [g.tokens for g in cached] != [g.tokens for g in recomputed]:
        return "different n-grams"
    if [g.span for g in cached] != [g.span for g in recomputed]:
        return "different suffix-array ranges"
    worst = max((abs(a.logprob - b.logprob) for a, b in zip(cached, recomputed)), default=0.0)
    return None if worst <= tolerance else f"log-probabilities differ by {worst:.2e}"


def markdown(report: dict) -> str:
    s, t = report["settings"], report["totals"]
    return "\n".join([
        f"# SEAL decoding: shared KV cache against full recomputation ({s['dataset']} {s['split']}, "
        f"{s['queries']} queries)", "",
        f"LM {s['model']} at {s['precision']} on {s['device']}, {s['threads']} torch thread(s); beam {s['beam_size']}, "
        f"n-grams up to {s['max_length']} tokens; recomputation batched {s['batch_size']} beams per forward pass. "
        f"Both decoders run on every query in one process, alternating which goes first. "
        f"CPU: {report['hardware']['processor']} ({report['hardware']['cpus']} cores).", "",
        "| decoder | seconds/query | n-grams kept per query |",
        "|---|---:|---:|",
        f"| full recomputation (before) | {t['recomputed_seconds'] / s['queries']:.3f} | {t['ngrams'] / s['queries']:.1f} |",
        f"| shared KV cache (now) | {t['cached_seconds'] / s['queries']:.3f} | {t['ngrams'] / s['queries']:.1f} |",
        "",
        f"Speed-up: **{t['ratio']:.2f}x** (median per query {t['median_ratio']:.2f}x). Identical output "
        f"(n-grams, ranges, log-probabilities within {s['tolerance']:g}): {t['identical']}/{s['queries']} queries."
        + (f" Differences: {report['differences']}." if report["differences"] else ""),
        *([ "", s["note"]] if s.get("note") else []), "",
        "Command: `" + s["command"] + "`", "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--beam-size", type=int, default=15)
    parser.add_argument("--max-length", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16, help="Beams per forward pass when recomputing.")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--out", default=str(RESULTS_DIR / "seal_kv_cache"))
    args = parser.parse_args()
    use_shared_datasets()

    import statistics

    import torch

    from regard import load_dataset
    from regard.indexing.ngram import open_ngram_index
    from regard.lm.causal import CausalLM
    from regard.retrieval.generative import ConstrainedDecoder

    dataset = load_dataset(args.dataset)
    judged = dataset.qrels(args.split)
    queries = [q for q in dataset.queries(args.split) if q.id in judged][: args.queries]
    index = open_or_build(dataset, "ngram", model=args.model)
    fm = open_ngram_index(index.folder)
    llm = CausalLM.load(args.model, precision=args.precision)
    options = dict(beam_size=args.beam_size, max_length=args.max_length, batch_size=args.batch_size)
    cached_decoder = ConstrainedDecoder(llm, fm, **options)
    recomputing_decoder = ConstrainedDecoder(llm, fm, kv_cache=False, **options)
    _timed(cached_decoder, "warm up")
    _timed(recomputing_decoder, "warm up")

    per_query, differences = [], {}
    for position, query in enumerate(queries):
        if position % 2 == 0:
            cached, cached_s = _timed(cached_decoder, query.text)
            recomputed, recomputed_s = _timed(recomputing_decoder, query.text)
        else:
            recomputed, recomputed_s = _timed(recomputing_decoder, query.text)
            cached, cached_s = _timed(cached_decoder, query.text)
        why = _differences(cached, recomputed, args.tolerance)
        if why:
            differences[query.id] = why
        per_query.append({"query": query.id, "cached_seconds": cached_s, "recomputed_seconds": recomputed_s,
                          "ngrams": len(cached), "identical": why is None})
        print(f"{position + 1}/{len(queries)} {recomputed_s:.2f} s -> {cached_s:.2f} s"
              f"{'' if why is None else ' (' + why + ')'}", flush=True)

    cached_total = sum(r["cached_seconds"] for r in per_query)
    recomputed_total = sum(r["recomputed_seconds"] for r in per_query)
    report = {
        "settings": {"dataset": args.dataset, "split": args.split, "queries": len(queries), "model": args.model,
                     "precision": llm.precision, "device": llm.device, "threads": torch.get_num_threads(),
                     "beam_size": args.beam_size, "max_length": args.max_length, "batch_size": args.batch_size,
                     "tolerance": args.tolerance, "note": args.note,
                     "command": "benchmarks/seal_kv_cache.py " + " ".join(
                         f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                         if k in ("queries", "beam_size", "max_length", "batch_size", "precision"))},
        "hardware": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "totals": {"cached_seconds": cached_total, "recomputed_seconds": recomputed_total,
                   "ratio": recomputed_total / cached_total,
                   "median_ratio": statistics.median(r["recomputed_seconds"] / r["cached_seconds"] for r in per_query),
                   "ngrams": sum(r["ngrams"] for r in per_query),
                   "identical": sum(r["identical"] for r in per_query)},
        "differences": differences,
        "per_query": per_query,
    }
    write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
