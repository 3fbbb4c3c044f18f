#!/usr/bin/env python
"""Long-context benchmark: M2-BERT against attention as documents grow, and chunked retrieval.

Part ``scaling`` encodes one document of n tokens (n = 512 ... 32,768) with the M2-BERT 80M
configuration (random weights: the published 32k configuration, no checkpoint is installable here)
and with a BERT-style attention encoder of the same width and depth (768 wide, 12 layers, 12 heads,
intermediate 3072, transformers ``BertModel`` with eager attention), and reports wall time and the
peak growth of the process's resident memory during the forward pass. The attention encoder stops
once one forward pass exceeds ``--time-cap`` seconds or its attention matrices would not fit in the
free memory.

Part ``chunked`` compares, on BEIR SciFact test with all-MiniLM-L6-v2 (precision auto, embedding
cache), the usual truncated dense index against a chunked index (overlapping token windows, one
vector per window) aggregated by MaxP, FirstP and sum of the top chunks.

Results go to ``benchmarks/results/long_context.{json,md}`` (parts run separately are merged).

    nice -n 19 .venv/bin/python benchmarks/long_context.py --part scaling
    nice -n 19 .venv/bin/python benchmarks/long_context.py --part chunked
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import RESULTS_DIR, configure_data_path, log, machine_info  # noqa: E402

LENGTHS = (512, 1024, 2048, 4096, 8192, 16384, 32768)
NAME = "long_context"


# --------------------------------------------------------------------------------------------------
# Scaling: time and memory of one forward pass


class PeakMemory:
    """Samples the process's resident set size in a thread; ``peak - start`` is the growth."""

    def __init__(self, interval: float = 0.005):
        import psutil

        self.process = psutil.Process()
        self.interval = interval

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def m2bert_model():
    import torch

    from regard.encoders.m2bert import M2_BERT_80M_32K, M2BertModel

    torch.manual_seed(0)
    return M2BertModel(M2_BERT_80M_32K).eval()


def attention_model():
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                        max_position_embeddings=max(LENGTHS), vocab_size=30528, attn_implementation="eager")
    return BertModel(config, add_pooling_layer=True).eval()


def forward(model, length: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one forward pass over ``length`` random tokens.

    With one torch thread on a shared CPU, CPU seconds measure the work done whatever share of the
    processor the other jobs leave, so the scaling columns use them; wall time is reported too.
    """
    import torch

    ids = torch.randint(1000, 29000, (1, length))
    mask = torch.ones_like(ids)
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        model(ids, attention_mask=mask)
    return time.perf_counter() - wall, time.process_time() - cpu


def attention_bytes(length: int, heads: int = 12) -> int:
    """Float32 scores and probabilities of one layer's attention (what eager attention materialises)."""
    return 2 * heads * length * length * 4


def measure_scaling(lengths: tuple[int, ...], time_cap: float) -> list[dict[str, Any]]:
    import psutil

    rows = []
    for label, build in (("M2-BERT 80M (Monarch Mixer, FFT long convolutions)", m2bert_model),
                         ("BERT-style attention encoder (eager attention)", attention_model)):
        model = build()
        params = sum(p.numel() for p in model.parameters())
        forward(model, 128)  # warm-up
        stopped = None
        for length in lengths:
            row = {"model": label, "parameters": params, "tokens": length}
            if stopped is None and "attention" in label:
                needed, free = attention_bytes(length), psutil.virtual_memory().available
                if needed > 0.8 * free:
                    stopped = (f"not run: eager attention needs {needed / 2**30:.1f} GiB per layer for its "
                               f"score matrices, {free / 2**30:.1f} GiB free")
            if stopped is not None:
                rows.append({**row, "skipped": stopped})
                log(f"{label} {length}: {stopped}")
                continue
            repeats = 2 if length <= 2048 else 1
            walls, cpus, peaks = [], [], []
            for _ in range(repeats):
                with PeakMemory() as memory:
                    wall, cpu = forward(model, length)
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(memory.growth_mib)
            row.update(seconds=min(cpus), wall_seconds=min(walls), all_cpu_seconds=cpus, all_wall_seconds=walls,
                       peak_mib=max(peaks), ms_per_token=1000 * min(cpus) / length)
            rows.append(row)
            log(f"{label} {length}: {min(cpus):.2f} CPU s ({min(walls):.2f} wall), +{max(peaks):.0f} MiB")
            if "attention" in label and min(cpus) > time_cap:
                stopped = f"not run: the {length}-token pass took {min(cpus):.0f} CPU s (> {time_cap:.0f} s cap)"
        del model
        gc.collect()
    return rows


def scaling_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| encoder | tokens | forward, CPU s | wall s | × previous | n log n predicts | n² predicts | CPU ms/token "
             "| peak memory growth (MiB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    previous: dict[str, dict] = {}
    for row in rows:
        name = row["model"].split(" (")[0]
        if "skipped" in row:
            lines.append(f"| {name} | {row['tokens']:,} | — | | | | | | {row['skipped']} |")
            continue
        before = previous.get(row["model"])
        ratio = nlogn = square = ""
        if before:
            r = row["tokens"] / before["tokens"]
            ratio = f"{row['seconds'] / before['seconds']:.2f}×"
            nlogn = f"{r * math.log2(row['tokens']) / math.log2(before['tokens']):.2f}×"
            square = f"{r * r:.0f}×"
        lines.append(f"| {name} | {row['tokens']:,} | {row['seconds']:.2f} | {row['wall_seconds']:.2f} | {ratio} | "
                     f"{nlogn} | {square} | "
                     f"{row['ms_per_token']:.2f} | {row['peak_mib']:.0f} |")
        previous[row["model"]] = row
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Report


def load_results() -> dict[str, Any]:
    path = RESULTS_DIR / f"{NAME}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def write_report(results: dict[str, Any]) -> str:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{NAME}.json").write_text(json.dumps(results, indent=2) + "\n")
    parts = ["# regard long-context benchmark", ""]
    for key in ("scaling", "chunked"):
        if key not in results:
            continue
        section = results[key]
        machine = section["machine"]
        parts.append(f"{machine['date']} · {machine['cpu_model']} · {machine['cpu_count']} cores "
                     f"({', '.join(machine['cpu_flags'])}) · torch {machine['versions'].get('torch')} · "
                     f"{machine['torch_threads']} torch threads · load average before/after "
                     f"{section['load_before']} / {section['load_after']} (the CPU is shared; timings are noisy)")
        parts.append("")
        parts.append(section["markdown"])
        parts.append("")
    text = "\n".join(parts)
    (RESULTS_DIR / f"{NAME}.md").write_text(text)
    return text


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run_scaling(args) -> dict[str, Any]:
    lengths = tuple(n for n in LENGTHS if n <= args.max_tokens)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = measure_scaling(lengths, args.time_cap)
    markdown = "\n".join([
        f"## Scaling: one document of n tokens, batch 1, fp32, CPU, {torch_threads()} torch thread(s)",
        "",
        "Both encoders have random weights: M2-BERT in the published 80M configuration at 32k tokens "
        "(12 Monarch Mixer layers, 768 wide, GLU MLP 3072 with 4 blocks, bidirectional and residual long "
        "convolutions by FFT), the attention encoder a transformers `BertModel` of the same width and depth "
        "with eager attention (the textbook n² score matrices). Time is the process's CPU time (one torch "
        "thread, so other jobs on the shared CPU do not inflate it; wall time beside it), the best of 2 "
        "passes up to 2,048 tokens and one pass beyond; memory is the peak growth of the process's resident set during the "
        "pass, sampled every 5 ms. \"× previous\" is the growth from the previous length (which doubles); "
        "the two columns after it are what n log n and n² scaling predict.",
        "",
        scaling_table(rows),
    ])
    return {"machine": machine_info(), "load_before": load_before,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()), "rows": rows,
            "time_cap_seconds": args.time_cap, "markdown": markdown}


CHUNK_CONFIGS = ((256, 64), (128, 32))
CHUNK_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CHUNK_METRICS = ("ndcg@10", "recall@100")


def run_chunked(args) -> dict[str, Any]:
    """Truncated dense index against chunked indexes (MaxP, FirstP, sum of top 2) on SciFact test."""
    from regard.datasets import load_dataset
    from regard.eval.experiment import run_experiment
    from regard.kinds import Index

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    data = load_dataset("scifact")
    queries, qrels = data.queries("test"), data.qrels("test")
    rows, pipelines = [], {}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        truncated = Index.build(data.corpus, Path(folder) / "dense", kind="dense", model=CHUNK_MODEL, precision="auto")
        builds = {"truncated": (time.perf_counter() - started, truncated)}
        log(f"truncated index built in {builds['truncated'][0]:.0f} s")
        pipelines["truncated (first 256 tokens)"] = truncated.retriever(k=1000)
        for tokens, overlap in CHUNK_CONFIGS:
            started = time.perf_counter()
            index = Index.build(data.corpus, Path(folder) / f"chunked-{tokens}", kind="dense-chunked",
                                model=CHUNK_MODEL, precision="auto", chunk_tokens=tokens, overlap=overlap)
            builds[f"chunked-{tokens}"] = (time.perf_counter() - started, index)
            log(f"chunked {tokens}/{overlap} index built in {builds[f'chunked-{tokens}'][0]:.0f} s")
            for mode in ("maxp", "firstp", "sumtop"):
                label = f"chunked {tokens}/{overlap} {mode}" + (" (top 2)" if mode == "sumtop" else "")
                pipelines[label] = index.retriever(k=1000, aggregate=mode, top_chunks=2)
        results = run_experiment(pipelines, queries, qrels, CHUNK_METRICS, ignore_identical_ids=True)
        for result in results:
            key = "truncated" if result.name.startswith("truncated") else f"chunked-{result.name.split()[1].split('/')[0]}"
            seconds, index = builds[key]
            params = index.manifest.parameters
            rows.append({"pipeline": result.name, **{m: result.evaluation.means[m] for m in CHUNK_METRICS},
                         "vectors": params.get("chunks", index.manifest.document_count),
                         "build_seconds": round(seconds, 1), "search_seconds": round(result.seconds, 2),
                         "precision": params.get("precision")})
    documents = rows[0]["vectors"]
    lines = [f"## Chunked retrieval: {CHUNK_MODEL}, BEIR SciFact test ({len(queries)} queries, {documents:,} documents)",
             "",
             "The truncated index embeds each document's first 256 tokens (the model's limit). Chunked indexes "
             "embed overlapping windows (tokens/overlap, special tokens included; windows start at word "
             "boundaries) and score a document by its best window (MaxP), its first window (FirstP: the same "
             "vectors as truncation when the window is 256 tokens) or the sum of its two best windows. Build "
             "time includes encoding, read from the embedding cache when a previous run left it there.",
             "",
             "| pipeline | nDCG@10 | Recall@100 | vectors | build (s) | search (s) | precision |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {row['pipeline']} | {row['ndcg@10']:.4f} | {row['recall@100']:.4f} | {row['vectors']:,} | "
                     f"{row['build_seconds']:.0f} | {row['search_seconds']:.1f} | {row['precision']} |")
    return {"machine": machine_info(), "load_before": load_before,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()), "rows": rows, "markdown": "\n".join(lines)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["scaling", "chunked", "all"], default="all")
    parser.add_argument("--max-tokens", type=int, default=max(LENGTHS), help="Longest document in the scaling part.")
    parser.add_argument("--time-cap", type=float, default=60.0,
                        help="Stop the attention encoder after a forward pass slower than this (seconds).")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared CPU, more threads wait on each other)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    configure_data_path()
    results = load_results()
    if args.part in ("scaling", "all"):
        results["scaling"] = run_scaling(args)
        write_report(results)
    if args.part in ("chunked", "all"):
        results["chunked"] = run_chunked(args)
    print(write_report(results))


if __name__ == "__main__":
    main()
