#!/usr/bin/env python
"""Corpus encoding on Ray against one process and against sentence-transformers' multi-process pool.

The same texts (the first ``--docs`` SciFact documents, title + text) are encoded with
all-MiniLM-L6-v2 (fp32) by: regard in one process (``corpus_embeddings``, no Ray); regard on a local
Ray cluster with 1 and 2 worker actors (the same call with the Ray shard mapper); and
sentence-transformers ``encode(..., pool=start_multi_process_pool(...))`` (its ``encode_multi_process``)
with the same worker counts. Each is timed once, start-up (model loads, actor or process start)
included and also reported apart. Ray's overhead per batch is measured with actors that do nothing.
A projection for MS MARCO and the large BEIR corpora follows from the measured per-worker rate and
stated GPU assumptions.

Results: ``benchmarks/results/scale_out.{json,md}``; the Markdown is also printed.

    nice -n 10 .venv/bin/python benchmarks/scale_out.py --docs 1000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import RESULTS_DIR, configure_data_path, log, machine_info  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CORPORA = {"MS MARCO passage": 8_841_823, "FEVER / Climate-FEVER": 5_416_568, "HotpotQA": 5_233_329,
           "DBPedia-entity": 4_635_922, "NQ": 2_681_468}
# Assumption (not measured here): all-MiniLM-L6-v2 in fp16 on one A100/H100-class GPU encodes about
# 4,000 BEIR passages/s at batch 256 with 256-token truncation; regard's driver keeps up at that rate.
GPU_DOCS_PER_SECOND = 4000.0
GPU_COUNTS = (1, 4, 8, 16, 32)


class Idle:
    """A worker object that does no work: what remains of a batch's time is Ray's overhead."""

    def size(self, texts: list[str]) -> int:
        return len(texts)


def regard_encode(texts_docs, workers: int | None) -> tuple[float, float, np.ndarray]:
    """(total seconds, start-up seconds, vectors) of corpus_embeddings, locally (None) or on Ray workers.

    Start-up: until every model that encodes is loaded (the driver's, and on Ray the workers' too).
    """
    from regard.encoders.cache import corpus_embeddings
    from regard.encoders.dense import DenseEncoder
    from regard.scale_out.encode import EncoderSpec, RayEncoderMapper
    from regard.scale_out.options import RayOptions

    os.environ["REGARD_CACHE"] = tempfile.mkdtemp(prefix="scale-out-bench-")
    started = time.perf_counter()
    encoder = DenseEncoder(MODEL, precision="fp32")
    startup = time.perf_counter() - started
    mapper = None
    if workers:
        options = RayOptions(workers=workers, cpus_per_worker=2.0 / workers)
        mapper = RayEncoderMapper(EncoderSpec(DenseEncoder, {"model": MODEL, "precision": "fp32"}), options,
                                  expected_identity=encoder.identity)
        # The pool starts lazily, on the first shard; start-up ends when the workers have their encoder
        # (the identity check answers), as for the other methods when their model is loaded.
        check = mapper._check_identity

        def timed_check() -> None:
            nonlocal startup
            check()
            startup = time.perf_counter() - started

        mapper._check_identity = timed_check
    vectors = corpus_embeddings(encoder, texts_docs, f"bench-{workers}", use_cache=False, shard_mapper=mapper)
    return time.perf_counter() - started, startup, vectors


def st_multi_process(texts: list[str], workers: int) -> tuple[float, float, np.ndarray]:
    from sentence_transformers import SentenceTransformer

    from regard.models import resolve_model

    started = time.perf_counter()
    model = SentenceTransformer(resolve_model(MODEL).location, device="cpu")
    pool = model.start_multi_process_pool(["cpu"] * workers)
    startup = time.perf_counter() - started
    try:
        vectors = model.encode(texts, pool=pool, batch_size=64, normalize_embeddings=True)
    finally:
        model.stop_multi_process_pool(pool)
    return time.perf_counter() - started, startup, vectors


def ray_overhead(batches: int, batch_texts: list[str]) -> float:
    """Seconds per batch of a 2-worker pool whose workers do nothing (texts still travel both ways)."""
    from regard.scale_out.actor_pool import ActorPool, Recipe
    from regard.scale_out.options import RayOptions

    with ActorPool(Recipe(Idle), RayOptions(workers=2, cpus_per_worker=1.0)) as pool:
        pool.attribute("size")  # workers built before timing
        started = time.perf_counter()
        done = sum(1 for _ in pool.map_unordered("size", ((i, (batch_texts,)) for i in range(batches))))
        return (time.perf_counter() - started) / done


def projection(per_worker_cpu: float) -> list[dict]:
    rows = []
    for name, size in CORPORA.items():
        row = {"corpus": name, "documents": size,
               "cpu_worker_hours": round(size / per_worker_cpu / 3600, 1)}
        for gpus in GPU_COUNTS:
            row[f"hours_{gpus}_gpu"] = round(size / (gpus * GPU_DOCS_PER_SECOND) / 3600, 2)
        rows.append(row)
    return rows


def markdown(report: dict) -> str:
    lines = [f"# Scale-out encoding: {report['documents']} SciFact documents, {MODEL} fp32, CPU", "",
             f"Machine: {report['machine'].get('cpu_model', '?')}, {report['machine'].get('cpu_count', '?')} CPUs; "
             f"load average {report['load_average'][0]} at start, {report['load_average'][1]} at end (other jobs "
             "share the CPUs when it exceeds 2); one run each, start-up = until every encoding model is loaded.", "",
             "| encoder | workers | docs/s (total) | total s | start-up s | docs/s after start-up | max abs diff vs one process |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in report["runs"]:
        lines.append(f"| {row['method']} | {row['workers']} | {row['docs_per_second']:.1f} | {row['seconds']:.1f} | "
                     f"{row['startup_seconds']:.1f} | {row['docs_per_second_after_startup']:.1f} | {row['max_abs_diff']:.1e} |")
    lines += ["", f"Ray overhead per batch (2 idle workers, {report['overhead_batch_texts']} texts per batch, "
              f"texts sent and an integer returned): {report['ray_overhead_ms_per_batch']:.2f} ms.", "",
              "## Projection (on paper)", "",
              f"CPU: the measured one-process rate ({report['per_worker_cpu_docs_per_second']:.1f} docs/s on 2 cores) "
              "per 2-core worker. GPU: an assumed "
              f"{GPU_DOCS_PER_SECOND:.0f} docs/s per GPU (all-MiniLM-L6-v2, fp16, A100/H100 class; not measured "
              "here), Ray's overhead per 1,024-document shard negligible beside it, linear scaling in the number of GPUs "
              "(workers never talk to each other; the driver only sends texts and receives 384 floats per document).", "",
              "| corpus | documents | CPU worker-hours | " + " | ".join(f"{g} GPU h" for g in GPU_COUNTS) + " |",
              "|---|---:|---:|" + "---:|" * len(GPU_COUNTS)]
    for row in report["projection"]:
        lines.append(f"| {row['corpus']} | {row['documents']:,} | {row['cpu_worker_hours']} | "
                     + " | ".join(str(row[f'hours_{g}_gpu']) for g in GPU_COUNTS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="Comma-separated worker counts.")
    args = parser.parse_args()
    configure_data_path()
    import ray

    from regard.datasets import load_dataset

    documents = []
    for document in load_dataset("scifact").corpus:
        documents.append(document)
        if len(documents) == args.docs:
            break
    texts = [d.contents for d in documents]
    # What a build encodes from: the documents in a docstore (read by shard, in order of length).
    from regard.indexing.docstore import DocStore, write_docstore

    store_folder = Path(tempfile.mkdtemp(prefix="scale-out-docstore-"))
    write_docstore(documents, store_folder)
    store = DocStore(store_folder)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    load_at_start = round(os.getloadavg()[0], 2)
    runs = []
    log("one process")
    seconds, startup, reference = regard_encode(store, None)
    runs.append(("regard, one process", 1, seconds, startup, reference))
    for workers in [int(w) for w in args.workers.split(",")]:
        log(f"regard on Ray, {workers} worker(s)")
        seconds, startup, vectors = regard_encode(store, workers)
        runs.append(("regard on Ray", workers, seconds, startup, vectors))
        log(f"sentence-transformers multi-process, {workers} worker(s)")
        seconds, startup, vectors = st_multi_process(texts, workers)
        runs.append(("sentence-transformers encode_multi_process", workers, seconds, startup, vectors))
    log("Ray overhead")
    overhead = ray_overhead(200, texts[:256])
    ray.shutdown()
    report = {
        "documents": len(documents), "model": MODEL, "machine": machine_info(),
        "runs": [{"method": m, "workers": w, "seconds": round(s, 2), "startup_seconds": round(u, 2),
                  "docs_per_second": round(len(documents) / s, 1),
                  "docs_per_second_after_startup": round(len(documents) / max(s - u, 1e-9), 1),
                  "max_abs_diff": float(np.abs(v - reference).max())} for m, w, s, u, v in runs],
        "ray_overhead_ms_per_batch": round(overhead * 1000, 3), "overhead_batch_texts": 256,
        "gpu_docs_per_second_assumed": GPU_DOCS_PER_SECOND,
        "load_average": [load_at_start, round(os.getloadavg()[0], 2)],
    }
    report["per_worker_cpu_docs_per_second"] = report["runs"][0]["docs_per_second_after_startup"]
    report["projection"] = projection(report["per_worker_cpu_docs_per_second"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "scale_out.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS_DIR / "scale_out.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
