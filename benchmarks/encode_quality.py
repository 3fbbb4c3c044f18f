#!/usr/bin/env python
"""nDCG@10 on SciFact test of one configuration of benchmarks/encode_peers.py (quality beside its speed).

Encodes the whole corpus (5,183 abstracts) and the 300 test queries with the configuration whose name
contains ``--config`` (see ``encode_peers.peers``), ranks by exact inner product and writes
benchmarks/results/encode_quality-<config>.json, which ``encode_peers.py --merge-quality`` puts next to
the speed figures. Configurations run as separate processes, so several can run side by side.

    .venv/bin/python benchmarks/encode_quality.py --config regard_fp32_onnx
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode_peers import peers  # noqa: E402
from foundation import configure_data_path, exact_search, load_data, score  # noqa: E402
from report_files import RESULTS_DIR  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="Part of a configuration's name, e.g. regard_int8_onnx.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--optimum-python", default="", help="As in encode_peers.py: the interpreter that runs "
                        "sentence-transformers' ONNX and OpenVINO backends.")
    parser.add_argument("--out-dir", default=str(RESULTS_DIR))
    args = parser.parse_args()
    configure_data_path()
    makers = [make for make, _ in peers(args.batch_size, args.optimum_python) if args.config in make.__name__]
    if len(makers) != 1:
        raise SystemExit(f"--config {args.config!r} matches {[m.__name__ for m in makers]}; name exactly one")
    data = load_data()
    system = makers[0](data.documents[:2], data.doc_texts[:2])
    started = time.perf_counter()
    corpus = system.encode_queries(data.doc_texts)  # no prefixes for MiniLM: queries and documents alike
    queries = system.encode_queries([q.text for q in data.queries])
    seconds = time.perf_counter() - started
    run = exact_search([q.id for q in data.queries], np.asarray(queries, dtype=np.float32), data.doc_ids,
                       np.asarray(corpus, dtype=np.float32))
    result = {"system": system.name, "config": makers[0].__name__, "precision": system.precision,
              "documents": len(data.doc_texts), "queries": len(data.queries), **score(run, data.qrels),
              "encode_seconds": seconds, "load_average": os.getloadavg()[0]}
    out = Path(args.out_dir) / f"encode_quality-{makers[0].__name__}.json"
    from regard.data.atomic_file import write_text_atomic

    write_text_atomic(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
