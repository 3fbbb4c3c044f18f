#!/usr/bin/env python
"""`regard serve` under load, on loopback: throughput and latency at 1, 8, 32 and 128 concurrent clients.

Two pipelines over the first ``--docs`` SciFact documents (bm25s BM25, and BM25 top 100 rescored by
all-MiniLM-L6-v2 vectors), each served by a real ``regard serve`` process twice: with micro-batching
(up to 32 queries, 5 ms wait) and one query at a time (``--max-batch 1``). The client sends a fixed
number of ``POST /search`` requests (k = 10, SciFact test query texts in turn) from N concurrent
connections, and records each latency and status. A last probe serves BM25 with a queue of 8 and
sends 128 concurrent requests: the surplus is answered 503 with Retry-After, and a following
sequential round checks that the service recovers.

Results: ``benchmarks/results/serve.{json,md}``; the Markdown is also printed. Figures are taken on
whatever machine runs this; the committed ones come from a shared 2-core CPU.

    nice -n 10 .venv/bin/python benchmarks/serve.py                 # about 15 minutes on 2 shared cores
    nice -n 10 .venv/bin/python benchmarks/serve.py --requests 64 --levels 1,8 --docs 300   # a check
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import REPO_ROOT, RESULTS_DIR, configure_data_path, log, machine_info  # noqa: E402

LEVELS = (1, 8, 32, 128)
MODES = {"micro-batched": ["--max-batch", "32", "--max-wait-ms", "5"], "one at a time": ["--max-batch", "1"]}
TIME_CAP_S = 60.0  # per level: a level that runs longer stops early and says so


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``regard serve`` process on a free loopback port."""

    def __init__(self, pipeline: str, options: list[str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "regard.cli", "serve", pipeline, "--host", "127.0.0.1", "--port", str(self.port),
             *options], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> "Server":
        import httpx

        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"regard serve exited: {self.process.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("regard serve did not start within 300 s")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.25)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(30)


async def load(url: str, queries: list[str], requests: int, clients: int) -> dict[str, Any]:
    """``requests`` searches from ``clients`` concurrent connections; latencies, statuses and throughput."""
    import httpx

    texts = itertools.cycle(queries)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    batch_sizes: list[int] = []
    sent = 0
    started = time.perf_counter()

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests and time.perf_counter() - started < TIME_CAP_S:
            sent += 1
            begin = time.perf_counter()
            try:
                response = await http.post("/search", json={"query": next(texts), "k": 10})
                status = str(response.status_code)
                if response.status_code == 200:
                    batch_sizes.append(response.json()["batch_size"])
            except httpx.HTTPError as err:
                status = type(err).__name__
            latencies.append(time.perf_counter() - begin)
            statuses[status] = statuses.get(status, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    ok = statuses.get("200", 0)
    return {"clients": clients, "requests": len(latencies), "wall_s": round(wall, 3),
            "throughput_qps": round(ok / wall, 2), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "errors": len(latencies) - ok, "statuses": statuses,
            "mean_batch": round(float(np.mean(batch_sizes)), 2) if batch_sizes else None,
            "stopped_by_time_cap": len(latencies) < requests}


def build_indexes(docs: int, folder: Path) -> tuple[Path, Path]:
    from regard import Index, load_dataset

    documents = list(itertools.islice(load_dataset("scifact").corpus, docs))
    log(f"indexing the first {len(documents)} SciFact documents (bm25s, dense all-MiniLM-L6-v2)")
    Index.build(documents, folder / "bm25", kind="bm25", backend="bm25s")
    Index.build(documents, folder / "dense", kind="dense")
    return folder / "bm25", folder / "dense"


def markdown(report: dict[str, Any]) -> str:
    lines = ["# `regard serve` under load (loopback)", "",
             f"Figures taken on a shared {report['machine']['cpu_count']}-core CPU ({report['machine']['cpu_model']}) "
             "while other jobs ran: compare rows of one run, not absolute values. "
             f"Index: the first {report['docs']} SciFact documents; queries: SciFact test texts in turn, k = 10; "
             f"{report['requests']} requests per row; server and client on one machine.", "",
             "| pipeline | mode | clients | q/s | p50 ms | p95 ms | p99 ms | errors | mean batch |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in report["rows"]:
        capped = " (time cap)" if row["stopped_by_time_cap"] else ""
        lines.append(f"| {row['pipeline']} | {row['mode']} | {row['clients']} | {row['throughput_qps']}{capped} | "
                     f"{row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {row['errors']} | {row['mean_batch']} |")
    lines += ["", "Gain from micro-batching (q/s micro-batched ÷ q/s one at a time):", "",
              "| pipeline | " + " | ".join(f"{c} clients" for c in report["levels"]) + " |",
              "|---|" + "---:|" * len(report["levels"])]
    for pipeline, gains in report["gains"].items():
        lines.append(f"| {pipeline} | " + " | ".join(f"{gains.get(str(c), float('nan')):.2f}×" for c in report["levels"]) + " |")
    probe = report["overload"]
    lines += ["", f"Overload probe (BM25, queue of {probe['max_queue']}, one query at a time, "
              f"{probe['burst']['requests']} requests from {probe['burst']['clients']} clients): statuses "
              f"{probe['burst']['statuses']}; afterwards {probe['after']['requests']} sequential requests: "
              f"statuses {probe['after']['statuses']}; server still running: {probe['server_alive']}.", ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=300, help="index the first N SciFact documents (default 300)")
    parser.add_argument("--requests", type=int, default=128, help="requests per row (default 128)")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent clients per row")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    configure_data_path()
    levels = [int(level) for level in args.levels.split(",")]
    from regard import load_dataset

    queries = [q.text for q in load_dataset("scifact").queries("test")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="regard-serve-bench-") as tmp:
        bm25, dense = build_indexes(args.docs, Path(tmp))
        pipelines = {"BM25": str(bm25), "BM25 % 100 >> dense": f"{bm25} % 100 >> {dense}"}
        for (name, spec), (mode, options) in itertools.product(pipelines.items(), MODES.items()):
            with Server(spec, options) as server:
                asyncio.run(load(server.url, queries, 16, 4))  # warm-up: model and index pages loaded
                for clients in levels:
                    row = {"pipeline": name, "mode": mode, **asyncio.run(load(server.url, queries, args.requests, clients))}
                    log(f"{name} | {mode} | {clients} clients: {row['throughput_qps']} q/s, p50 {row['p50_ms']} ms, "
                        f"errors {row['errors']}")
                    rows.append(row)
        with Server(str(bm25), ["--max-batch", "1", "--max-queue", "8"]) as server:
            burst = asyncio.run(load(server.url, queries, 128, 128))
            after = asyncio.run(load(server.url, queries, 32, 1))
            overload = {"max_queue": 8, "burst": burst, "after": after, "server_alive": server.process.poll() is None}
    gains: dict[str, dict[str, float]] = {}
    for name in pipelines:
        for clients in levels:
            by_mode = {r["mode"]: r["throughput_qps"] for r in rows if r["pipeline"] == name and r["clients"] == clients}
            if by_mode.get("one at a time"):
                gains.setdefault(name, {})[str(clients)] = round(by_mode["micro-batched"] / by_mode["one at a time"], 2)
    report = {"benchmark": "serve", "docs": args.docs, "requests": args.requests, "levels": levels, "rows": rows,
              "gains": gains, "overload": overload, "machine": machine_info(),
              "note": "shared 2-core CPU: other engineers' jobs ran at the same time"}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    write_atomically(args.out_dir / "serve.json", json.dumps(report, indent=2) + "\n")
    write_atomically(args.out_dir / "serve.md", text)
    print(text)


if __name__ == "__main__":
    main()
