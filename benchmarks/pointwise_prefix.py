#!/usr/bin/env python
"""Pointwise LLM reranking with the query's prompt prefix encoded once, against one full prompt per document.

On the BM25 (Lucene) top ``--depth`` candidates of the first ``--queries`` judged SciFact test
queries, the ``Pointwise`` stage scores every candidate twice per query in one process, alternating
which goes first: with ``share_prefix`` (chat template, instruction and query encoded once, their KV
cache reused for each batch of documents) and without (each prompt run whole, as before). Reports
seconds per query of each, the ratio, the largest score difference, and nDCG@10 of both runs.

    nice -n 5 .venv/bin/python benchmarks/pointwise_prefix.py --queries 10 --depth 20

Writes benchmarks/results/pointwise_prefix.json and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from report_files import RESULTS_DIR, open_or_build, use_shared_datasets, write_report


def markdown(report: dict) -> str:
    s, r = report["settings"], report["results"]
    lines = [f"# Pointwise LLM reranking: shared prompt prefix against full prompts ({s['dataset']} {s['split']}, "
             f"{s['queries']} queries, BM25 top {s['depth']})", "",
             f"LM {s['model']} at {s['precision']}, {s['threads']} torch thread(s), batch {s['batch_size']}, documents "
             f"cut to {s['max_words']} words; both ways run on every query in one process, alternating which goes "
             f"first. CPU: {report['hardware']['processor']} ({report['hardware']['cpus']} cores).", "",
             "| prompts | seconds/query | nDCG@10 |", "|---|---:|---:|",
             f"| one full prompt per document (before) | {r['separate_seconds'] / s['queries']:.3f} | "
             f"{r['separate_ndcg@10']:.4f} |",
             f"| shared prefix, KV cache reused (now) | {r['shared_seconds'] / s['queries']:.3f} | "
             f"{r['shared_ndcg@10']:.4f} |", "",
             f"Speed-up: **{r['ratio']:.2f}x**; largest score difference {r['max_score_difference']:.2e}; the shared "
             f"prefix is {r['mean_prefix_tokens']:.0f} of {r['mean_prompt_tokens']:.0f} prompt tokens on average."]
    if s.get("note"):
        lines += ["", s["note"]]
    lines += ["", f"Command: `benchmarks/pointwise_prefix.py --queries {s['queries']} --depth {s['depth']} "
              f"--batch-size {s['batch_size']} --max-words {s['max_words']}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-words", type=int, default=100)
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--out", default=str(RESULTS_DIR / "pointwise_prefix"))
    args = parser.parse_args()
    use_shared_datasets()

    import torch

    from regard import evaluate, load_dataset
    from regard.data.types import Run
    from regard.rerank.docs import truncate_words
    from regard.lm.causal import CausalLM, common_prefix_length
    from regard.rerank.pointwise import Pointwise

    dataset = load_dataset(args.dataset)
    judged = dataset.qrels(args.split)
    queries = [q for q in dataset.queries(args.split) if q.id in judged][: args.queries]
    index = open_or_build(dataset, "bm25")
    candidates = index.retriever(k=args.depth)(queries)
    llm = CausalLM.load(args.model, precision=args.precision)
    options = dict(batch_size=args.batch_size, max_words=args.max_words)
    stages = {"shared": Pointwise(index, llm, **options), "separate": Pointwise(index, llm, share_prefix=False, **options)}
    stages["shared"](queries[:1], candidates)  # warm up
    stages["separate"](queries[:1], candidates)

    seconds = {name: 0.0 for name in stages}
    rankings = {name: {} for name in stages}
    prefix_tokens, prompt_tokens = [], []
    for position, query in enumerate(queries):
        order = ["shared", "separate"] if position % 2 == 0 else ["separate", "shared"]
        for name in order:
            started = time.perf_counter()
            rankings[name].update(stages[name]([query], candidates).items())
            seconds[name] += time.perf_counter() - started
        docs = index.docstore.get_many([d for d, _ in candidates[query.id]])
        prompts = [stages["shared"].prompt(query.text, truncate_words(docs[d].contents, args.max_words))
                   for d, _ in candidates[query.id]]
        prefix_tokens.append(common_prefix_length(prompts))
        prompt_tokens.append(sum(map(len, prompts)) / len(prompts))
        print(f"{position + 1}/{len(queries)}", flush=True)

    runs = {name: Run(r) for name, r in rankings.items()}
    wanted = {q.id for q in queries}
    qrels = {q: j for q, j in judged.items() if q in wanted}
    ndcg = {name: evaluate(run, qrels, ["ndcg@10"], dataset.relevance_threshold, ignore_identical_ids=True)["ndcg@10"]
            for name, run in runs.items()}
    difference = max(abs(dict(runs["shared"][q])[d] - s) for q in wanted for d, s in runs["separate"][q])
    report = {
        "settings": {"dataset": args.dataset, "split": args.split, "queries": len(queries), "depth": args.depth,
                     "model": args.model, "precision": llm.precision, "threads": torch.get_num_threads(),
                     "batch_size": args.batch_size, "max_words": args.max_words, "backend": "transformers (PyTorch)",
                     "note": args.note},
        "hardware": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "results": {"shared_seconds": seconds["shared"], "separate_seconds": seconds["separate"],
                    "ratio": seconds["separate"] / seconds["shared"], "max_score_difference": difference,
                    "shared_ndcg@10": ndcg["shared"], "separate_ndcg@10": ndcg["separate"],
                    "mean_prefix_tokens": sum(prefix_tokens) / len(prefix_tokens),
                    "mean_prompt_tokens": sum(prompt_tokens) / len(prompt_tokens)},
    }
    write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
