#!/usr/bin/env python
"""Generative n-gram retrieval (SEAL) on SciFact, zero-shot, against BM25 and fused with it.

On the first ``--queries`` judged test queries (in the queries file's order) this measures nDCG@10
and Recall@100 of: BM25 (Lucene, BEIR flat), the generative retriever (an untrained instruction LM
generating corpus n-grams under the n-gram index's constraints, SEAL weights and intersective
scoring), and ``bm25 | generative`` (reciprocal-rank fusion, k = 60); the generative retriever's
seconds per query; and the n-gram index's size against the corpus's.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/generative.py --queries 50

Writes benchmarks/results/generative.json and .md.
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
METRICS = ["ndcg@10", "recall@100"]


def _use_shared_datasets() -> None:
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if not os.environ.get("REGARD_DATA") and shared.is_dir():
        os.environ["REGARD_DATA"] = str(shared)


def _index(dataset, kind: str, **params):
    from regard import Index

    folder = WORK_DIR / f"{dataset.name}-{kind}"
    return Index.open(folder) if folder.exists() else Index.build(dataset, folder, kind=kind, **params)


def generative_run(index, llm: str, queries, args):
    """The generative run of ``llm`` on ``queries`` and its seconds per query; cached in benchmarks/.work."""
    from regard.data.types import Run

    key = f"{Path(llm).name}-b{args.beam_size}-l{args.max_length}-{len(queries)}q"
    cache = WORK_DIR / f"generative-run-{key}.json"
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored["query_ids"] == [q.id for q in queries]:
            return Run(stored["rankings"]), stored["seconds_per_query"]
    stage = index.retriever(k=1000, llm=llm, beam_size=args.beam_size, max_length=args.max_length)
    rankings, seconds = {}, 0.0
    for position, query in enumerate(queries, 1):
        started = time.perf_counter()
        rankings.update(stage([query]).items())
        seconds += time.perf_counter() - started
        print(f"{llm}: {position}/{len(queries)} {seconds / position:.2f} s/query", flush=True)
    cache.write_text(json.dumps({"query_ids": [q.id for q in queries], "rankings": rankings,
                                 "seconds_per_query": seconds / len(queries)}))
    return Run(rankings), seconds / len(queries)


def _training_record(folder: str) -> dict:
    path = Path(folder) / "regard_training.json"
    return {"folder": folder, **(json.loads(path.read_text()) if path.exists() else {})}


def markdown(report: dict) -> str:
    s, size = report["settings"], report["index"]
    lines = [
        f"# Generative retrieval (SEAL) on {s['dataset']} {s['split']}: {s['queries']} queries, "
        f"zero-shot{' and trained' if report.get('trained') else ''}", "",
        f"Queries: the first {s['queries']} judged queries of the split, in file order. LM: {s['model']} "
        f"(untrained for this task), prompt = the query through its chat template; beam {s['beam_size']}, "
        f"n-grams up to {s['max_length']} tokens starting at a word; alpha {s['alpha']}, beta {s['beta']}, "
        f"smoothing {s['smoothing']}; n-grams occurring more than {s['max_occurrences']} times left out. "
        f"CPU: {report['hardware']['processor']}, {s['threads']} thread(s).", "",
        "| pipeline | nDCG@10 | R@100 | seconds/query | queries with results |",
        "|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        seconds = f"{row['seconds_per_query']:.2f}" if row.get("seconds_per_query") is not None else "–"
        label = row["pipeline"].replace("|", "\\|")
        lines.append(f"| {label} | {row['ndcg@10']:.4f} | {row['recall@100']:.4f} | {seconds} | "
                     f"{row['answered']}/{s['queries']} |")
    for trained in report.get("trained", []):
        c = trained.get("config", {})
        lines += ["", f"Trained LM `{trained['folder']}`: `regard train generative` from {c.get('base')} on "
                  f"{c.get('dataset')} {c.get('split')} ({trained.get('queries')} queries, {trained.get('examples')} "
                  f"examples: each relevant document's title and {c.get('spans_per_document')} random "
                  f"{c.get('span_tokens')}-token spans), {c.get('epochs')} epoch(s), lr {c.get('learning_rate')}, "
                  f"batch {c.get('batch_size')}; epoch losses {trained.get('epoch_losses')}."]
    if s.get("note"):
        lines += ["", s["note"]]
    lines += ["", f"N-gram index: {size['token_count']:,} tokens of {size['documents']:,} documents; "
              f"{size['index_bytes'] / 1e6:.1f} MB of arrays (tokens, suffix array, offsets) against "
              f"{size['corpus_bytes'] / 1e6:.1f} MB of lower-cased corpus text: {size['ratio']:.2f}x; "
              f"built in {size['build_seconds']:.1f} s.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--beam-size", type=int, default=15)
    parser.add_argument("--max-length", type=int, default=10)
    parser.add_argument("--trained", action="append", default=[],
                        help="A fine-tuned LM folder (regard train generative) to measure as well; repeatable.")
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--out", default=str(RESULTS_DIR / "generative"))
    args = parser.parse_args()
    _use_shared_datasets()

    from regard import evaluate, load_dataset
    from regard.retrieval.fusion import reciprocal_rank_fusion
    from regard.retrieval.seal import ALPHA, BETA, MAX_OCCURRENCES, SMOOTHING

    dataset = load_dataset(args.dataset)
    queries = [q for q in dataset.queries(args.split) if q.id in dataset.qrels(args.split)][: args.queries]
    wanted = {q.id for q in queries}
    qrels = {q: j for q, j in dataset.qrels(args.split).items() if q in wanted}

    def score(run) -> dict:
        return evaluate(run, qrels, METRICS, dataset.relevance_threshold, ignore_identical_ids=True)

    bm25_run = _index(dataset, "bm25").retriever(k=1000)(queries)
    ngram = _index(dataset, "ngram", model=args.model)
    rows = [{"pipeline": "bm25", **score(bm25_run), "answered": sum(1 for q in wanted if bm25_run.get(q))}]
    for label, llm in [("zero-shot", args.model)] + [(f"trained {Path(t).name}", t) for t in args.trained]:
        run, seconds = generative_run(ngram, llm, queries, args)
        fused = reciprocal_rank_fusion([bm25_run, run])
        rows.append({"pipeline": f"generative ({label})", **score(run), "seconds_per_query": seconds,
                     "answered": sum(1 for q in wanted if run.get(q))})
        rows.append({"pipeline": f"bm25 | generative ({label}), RRF", **score(fused),
                     "answered": sum(1 for q in wanted if fused.get(q))})

    m = ngram.manifest
    report = {
        "settings": {"dataset": args.dataset, "split": args.split, "queries": len(queries), "model": args.model,
                     "beam_size": args.beam_size, "max_length": args.max_length, "alpha": ALPHA, "beta": BETA,
                     "smoothing": SMOOTHING, "max_occurrences": MAX_OCCURRENCES,
                     "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count(),
                     "query_ids": [q.id for q in queries], "note": args.note},
        "hardware": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "index": {"token_count": m.parameters["token_count"], "documents": m.document_count,
                  "index_bytes": m.parameters["index_bytes"], "corpus_bytes": m.parameters["corpus_bytes"],
                  "ratio": m.parameters["index_to_corpus_ratio"], "build_seconds": m.build_seconds},
        "trained": [_training_record(t) for t in args.trained],
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
