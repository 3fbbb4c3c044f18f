#!/usr/bin/env python
"""LLM rerankers compared in one run: quality, cost per query, and the two cost ratios of issue 4.

For each model, on the same BM25 candidates of a fixed subset of queries (the first ``--queries``
judged queries of the split, in the queries file's order), this runs: pointwise (Yes/No log-odds),
ICR uncalibrated, ICR calibrated, listwise full window, and listwise sliding window
(``--window``/``--step``), and reports nDCG@10 with seconds, forward passes, prompt and generated
tokens per query. It then counts, without generating, the listwise prompt tokens of full-window
against sliding-window ranking (window 20, step 10) for each query's top-100 DL19 candidates.

    .venv/bin/python benchmarks/llm_rerank.py --dataset scifact --queries 10 --depth 20
    .venv/bin/python benchmarks/llm_rerank.py --dataset dl19 --queries 5 --depth 20

Writes benchmarks/results/llm_rerank_<dataset>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
WORK_DIR = REPO_ROOT / "benchmarks" / ".work"
MODELS = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct", "gemma3": "google/gemma-3-270m"}
METHODS = ("pointwise", "icr-uncalibrated", "icr", "listwise-full", "listwise-sliding")


def _use_shared_datasets() -> None:
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if not os.environ.get("REGARD_DATA") and shared.is_dir():
        os.environ["REGARD_DATA"] = str(shared)


def first_stage(dataset, queries, depth: int):
    """BM25 (Lucene) candidates for BEIR datasets; the shipped candidate run for reranking collections."""
    from regard import Index

    folder = WORK_DIR / f"{dataset.name}-bm25"
    index = Index.open(folder) if folder.exists() else Index.build(dataset, folder, kind="bm25")
    run = dataset.candidates() if dataset.spec.candidates_file else index.retriever(k=1000)(queries)
    return index, run.cut(depth)


def build_stage(method: str, index, llm, args):
    from regard.rerank.icr import ICR
    from regard.rerank.listwise import Listwise
    from regard.rerank.pointwise import Pointwise

    words = args.max_words
    if method == "pointwise":
        return Pointwise(index, llm, max_words=words)
    if method.startswith("icr"):
        return ICR(index, llm, calibrate=method == "icr", max_words=words)
    window = None if method == "listwise-full" else args.window
    return Listwise(index, llm, window=window, step=args.step, max_words=words)


def measure(method: str, stage, queries, candidates, qrels, dataset) -> dict:
    from regard import evaluate

    started = time.perf_counter()
    run = stage(queries, candidates)
    seconds = time.perf_counter() - started
    cost = stage.cost.summary()
    row = {
        "method": method, "ndcg@10": evaluate(run, qrels, ["ndcg@10"], dataset.relevance_threshold,
                                             ignore_identical_ids=dataset.spec.layout == "beir")["ndcg@10"],
        "seconds_per_query": seconds / len(queries), "forward_passes_per_query": cost["forward_passes_per_query"],
        "prompt_tokens_per_query": cost["prompt_tokens_per_query"],
        "generated_tokens_per_query": cost["generated_tokens_per_query"],
    }
    if hasattr(stage, "parsed"):
        row["usable_identifiers"] = stage.parsed["usable"] / max(stage.parsed["expected"], 1)
    return row


def listwise_prompt_tokens(llm, candidates, queries, index, words: int, window: int, step: int) -> dict:
    """Prompt tokens of full-window and sliding-window listwise ranking, counted without generating."""
    from regard.rerank.docs import truncate_words
    from regard.rerank.listwise import ranking_messages, sliding_windows

    full = sliding = 0
    for query in queries:
        docids = candidates.docids(query.id)
        texts = index.docstore.get_many(docids)
        passages = [truncate_words(texts[d].contents, words) for d in docids]
        full += llm.count_tokens(ranking_messages(query.text, passages))
        sliding += sum(llm.count_tokens(ranking_messages(query.text, passages[a:b]))
                       for a, b in sliding_windows(len(passages), window, step))
    return {"queries": len(queries), "candidates": len(candidates.docids(queries[0].id)),
            "full_window_prompt_tokens_per_query": full / len(queries),
            "sliding_window_prompt_tokens_per_query": sliding / len(queries), "ratio": full / sliding}


def markdown(report: dict) -> str:
    a = report["settings"]
    lines = [f"# LLM rerankers on {a['dataset']} ({a['queries']} queries, BM25 top {a['depth']})", "",
             f"Queries: the first {a['queries']} judged queries of the split, in file order; documents cut to "
             f"{a['max_words']} words; sliding window {a['window']}, step {a['step']}; precision {a['precision']} "
             f"(bf16 weights on this CPU). Machine: {report['machine']}.",
             "", "| model | method | nDCG@10 | s/query | forward passes/q | prompt tokens/q | generated tokens/q "
             "| usable ids |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines.append(f"| – | BM25 | {report['bm25_ndcg@10']:.4f} | | | | | |")
    for model, rows in report["models"].items():
        for r in rows["methods"]:
            usable = f"{r['usable_identifiers']:.0%}" if "usable_identifiers" in r else ""
            lines.append(f"| {model} | {r['method']} | {r['ndcg@10']:.4f} | {r['seconds_per_query']:.2f} | "
                         f"{r['forward_passes_per_query']:.0f} | {r['prompt_tokens_per_query']:.0f} | "
                         f"{r['generated_tokens_per_query']:.0f} | {usable} |")
    lines += ["", "## Cost ratios (same model, same candidates, same run)", "",
              "| model | ICR s/q ÷ sliding-window s/q "
              "| full-window ÷ sliding-window prompt tokens (DL19 top 100, w20 s10) |",
              "|---|---:|---:|"]
    for model, rows in report["models"].items():
        tokens = rows.get("prompt_tokens_top100")
        lines.append(f"| {model} | {rows.get('icr_over_sliding_seconds', float('nan')):.3f} | "
                     f"{tokens['ratio']:.3f} ({tokens['full_window_prompt_tokens_per_query']:.0f} vs "
                     f"{tokens['sliding_window_prompt_tokens_per_query']:.0f}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default=None)
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--max-words", type=int, default=100)
    parser.add_argument("--models", default="smollm2,gemma3")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    _use_shared_datasets()

    from regard import evaluate, load_dataset
    from regard.lm.causal import CausalLM

    dataset = load_dataset(args.dataset)
    queries = dataset.queries(args.split)[: args.queries]
    wanted = {q.id for q in queries}
    qrels = {q: j for q, j in dataset.qrels(args.split).items() if q in wanted}
    index, candidates = first_stage(dataset, queries, args.depth)
    candidates = candidates.__class__({q: candidates[q] for q in wanted if q in candidates})
    dl19 = load_dataset("dl19")
    dl19_queries = dl19.queries()
    dl19_index, dl19_top100 = first_stage(dl19, dl19_queries, 100)
    report = {
        "settings": {**vars(args), "dataset": args.dataset, "query_ids": [q.id for q in queries]},
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
                   f"{__import__('torch').get_num_threads()}",
        "bm25_ndcg@10": evaluate(candidates, qrels, ["ndcg@10"], dataset.relevance_threshold,
                                 ignore_identical_ids=dataset.spec.layout == "beir")["ndcg@10"],
        "models": {},
    }
    out = RESULTS_DIR / f"llm_rerank_{args.dataset}"
    for key in args.models.split(","):
        llm = CausalLM.load(MODELS.get(key, key), precision=args.precision)
        rows = {"model": llm.name, "precision": llm.precision, "context_length": llm.context_length, "methods": []}
        report["models"][key] = rows
        rows["prompt_tokens_top100"] = listwise_prompt_tokens(llm, dl19_top100, dl19_queries, dl19_index,
                                                              args.max_words, 20, 10)
        for method in args.methods.split(","):
            row = measure(method, build_stage(method, index, llm, args), queries, candidates, qrels, dataset)
            rows["methods"].append(row)
            print(json.dumps({"model": key, **row}), flush=True)
            by_method = {r["method"]: r for r in rows["methods"]}
            if "icr" in by_method and "listwise-sliding" in by_method:
                rows["icr_over_sliding_seconds"] = (by_method["icr"]["seconds_per_query"]
                                                    / by_method["listwise-sliding"]["seconds_per_query"])
            write(report, out)  # after every method, so partial results survive an interruption
    print(markdown(report))


def write(report: dict, out: Path) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(markdown(report))


if __name__ == "__main__":
    main()
