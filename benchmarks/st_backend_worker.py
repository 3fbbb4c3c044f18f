#!/usr/bin/env python
"""One sentence-transformers backend configuration, timed on request from ``encode_peers.py``.

sentence-transformers' ONNX and OpenVINO backends need ``optimum-onnx`` / ``optimum-intel``, whose releases
pin older transformers than regard's environment has. ``encode_peers.py --optimum-python PYTHON`` runs
them here, under another interpreter (a virtual environment where they install, see benchmarks/README.md),
one process per configuration, and drives the rounds itself so the order still alternates with the
in-process configurations. This file imports only sentence-transformers, numpy and the standard library.

Protocol: one JSON object per line on stdin, one per line on stdout.
``{"encode": "texts.json", "out": "vectors.npy"}`` encodes the texts (a JSON list of strings), saves the
L2-normalised float32 vectors and answers ``{"seconds": s}``; ``{"quit": true}`` ends the process.
After loading (and one warm-up pass) it answers ``{"ready": true, "note": "..."}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

# Configuration name → (backend, optimisation): ``plain`` runs the backend's own export; ``O3`` the export
# fused by optimum's O3 level (ST's export_optimized_onnx_model); ``qint8_avx2`` / ``qint8_avx512_vnni``
# the dynamic int8 quantisation ST publishes for those CPUs (export_dynamic_quantized_onnx_model).
CONFIGURATIONS = {
    "onnx": ("onnx", "plain"),
    "onnx-O3": ("onnx", "O3"),
    "onnx-qint8-avx2": ("onnx", "qint8_avx2"),
    "openvino": ("openvino", "plain"),
}


def load(configuration: str, model_dir: Path, work: Path):
    """The SentenceTransformer of ``configuration``, its exports written under ``work`` (a copy of the model)."""
    from sentence_transformers import SentenceTransformer

    backend, optimisation = CONFIGURATIONS[configuration]
    copy = work / "model"
    if not copy.exists():
        shutil.copytree(model_dir, copy)
    if optimisation == "plain":
        return SentenceTransformer(str(copy), device="cpu", backend=backend)
    base = SentenceTransformer(str(copy), device="cpu", backend=backend)
    if optimisation == "O3":
        from sentence_transformers import export_optimized_onnx_model

        export_optimized_onnx_model(base, "O3", str(copy))
        file_name = "onnx/model_O3.onnx"
    else:
        from sentence_transformers import export_dynamic_quantized_onnx_model

        config = optimisation.removeprefix("qint8_")
        export_dynamic_quantized_onnx_model(base, config, str(copy))
        # The file is named after the weights' type, which differs between configurations (quint8 for avx2).
        file_name = f"onnx/{next((copy / 'onnx').glob(f'model_*int8_{config}.onnx')).name}"
    return SentenceTransformer(str(copy), device="cpu", backend=backend, model_kwargs={"file_name": file_name})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configuration", required=True, choices=sorted(CONFIGURATIONS))
    parser.add_argument("--model", required=True, type=Path, help="The model's folder.")
    parser.add_argument("--work", required=True, type=Path, help="A folder for the model's copy and exports.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = load(args.configuration, args.model, args.work)
    model.max_seq_length = args.max_length

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                       show_progress_bar=False), dtype=np.float32)

    encode(["a warm-up text", "and another one"])
    import sentence_transformers
    import transformers

    note = (f"sentence-transformers {sentence_transformers.__version__} backend={CONFIGURATIONS[args.configuration][0]}"
            f" ({CONFIGURATIONS[args.configuration][1]}), transformers {transformers.__version__}")
    print(json.dumps({"ready": True, "note": note}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        texts = json.loads(Path(request["encode"]).read_text())
        started = time.perf_counter()
        vectors = encode(texts)
        seconds = time.perf_counter() - started
        np.save(request["out"], vectors)
        print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
