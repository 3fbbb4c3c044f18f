#!/usr/bin/env python
"""Scale benchmark: every index kind at 10k, 100k (and 1M) synthetic passages, each build in a child process.

For each kind and size: build seconds, peak resident memory of the build process, bytes on disk,
search queries/s at k=1000 (SciFact's 300 test queries, cycled), and the peak memory of a search
process (which memory-maps the payloads: its RSS includes the pages it touched). Encoding kinds use
a tiny random-weight BERT built here (2 layers, 32 dimensions, MiniLM's vocabulary): the machinery,
not quality. Corpora come from ``benchmarks/synthetic_corpus.py`` (real sentences, seeded).

Writes ``benchmarks/results/scale.{json,md}`` with the growth from the smallest to the largest size
and an on-paper projection to 10M passages and MS MARCO (8.8M) per kind (linear in documents for
time and disk; the RAM a kind must hold, per the architecture notes).

    .venv/bin/python benchmarks/scale.py --sizes 10000,100000            # about 15 minutes here
    .venv/bin/python benchmarks/scale.py --sizes 1000000 --kinds bm25-lucene,bm25s,dense
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from synthetic_corpus import synthetic_corpus  # noqa: E402

RESULTS = ROOT / "results"
WORK = ROOT / ".work" / "scale"
KINDS = {
    "bm25-lucene": ("bm25", {"backend": "lucene"}),
    "bm25s": ("bm25", {"backend": "bm25s"}),
    "dense": ("dense", {"precision": "fp32", "batch_size": 256, "use_cache": False}),
    "multivector": ("multivector", {"precision": "fp32", "batch_size": 256, "use_cache": False,
                                    "document_max_length": 128}),
    # FDEs product-quantised (1/32 of float32) and smaller than the paper's 10,240 dimensions (1,280: k_sim 4,
    # d_proj 8, 10 repetitions), so the build fits this machine's time at 100k+; the machinery is the same.
    "muvera-pq": ("muvera", {"precision": "fp32", "batch_size": 256, "use_cache": False, "document_max_length": 128,
                             "fde_pq": True, "k_sim": 4, "d_proj": 8, "r_reps": 10}),
    "ngram": ("ngram", {}),
}
QUERIES = 300
MSMARCO = 8_841_823
ENCODING_KINDS = ("dense", "multivector", "muvera-pq")
# For the projection of real encoding cost (the rows above use a tiny encoder). CPU: all-MiniLM-L6-v2 fp32
# on SciFact abstracts on this 2-core AVX2 CPU, one process, quiet machine (benchmarks/scale_out.py --docs
# 1000: 11.7 docs/s after start-up). GPU: assumed, not measured here (no GPU was lent): MiniLM in fp16 on
# one A100/H100-class GPU at about 4,000 passages/s (batch 256, 256 tokens), as in benchmarks/scale_out.py.
MINILM_CPU_DOCS_PER_SECOND = 11.7
MINILM_GPU_DOCS_PER_SECOND = 4000.0


def tiny_encoder() -> Path:
    """A random-weight 2-layer BERT with MiniLM's tokenizer, saved once (sentence-transformers loads it)."""
    folder = WORK / "tiny-bert"
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from regard.models import resolve_model

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def _child(code: str, *args: str) -> tuple[dict, int]:
    """Run ``code`` in a fresh Python; returns (its JSON output, its peak RSS in bytes)."""
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read()
    process.stdout.close()
    if status != 0:
        raise RuntimeError(f"child failed ({status}): {output[-2000:]}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss * 1024


# A child samples its anonymous resident memory (RssAnon: heap, not the pages of memory-mapped payload
# files, which the kernel can drop) every 50 ms; ru_maxrss counts both.
ANON_SAMPLER = """
import threading, time
PEAK_ANON = [0]
def _sample_anon():
    while True:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    PEAK_ANON[0] = max(PEAK_ANON[0], int(line.split()[1]) * 1024)
        time.sleep(0.05)
threading.Thread(target=_sample_anon, daemon=True).start()
"""

BUILD = ANON_SAMPLER + """
import json, sys, time
from regard import Index
from regard.progress import set_quiet
set_quiet()
corpus, out, kind, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
started = time.perf_counter()
Index.build(corpus, out, kind=kind, overwrite=True, **params)
print(json.dumps({"seconds": time.perf_counter() - started, "peak_anon": PEAK_ANON[0]}))
"""

SEARCH = ANON_SAMPLER + """
import json, sys, time
from regard import Index, load_dataset
from regard.progress import set_quiet
set_quiet()
folder, count = sys.argv[1], int(sys.argv[2])
queries = load_dataset("scifact").queries("test")
queries = (queries * (count // len(queries) + 1))[:count]
queries = [type(q)(f"{q.id}-{i}", q.text) for i, q in enumerate(queries)]
stage = Index.open(folder).retriever(k=1000)
stage(queries[:2])  # load models and touch the payload once
started = time.perf_counter()
run = stage(queries)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "queries": len(queries), "hits": sum(len(run[q]) for q in run),
                  "peak_anon": PEAK_ANON[0]}))
"""


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(name: str, size: int, queries: int, cached_encoding: bool = False) -> dict:
    kind, params = KINDS[name]
    params = dict(params)
    if cached_encoding and "use_cache" in params:
        params["use_cache"] = True
    if kind in ("dense", "multivector", "muvera"):
        params["model"] = str(tiny_encoder())
    if kind == "ngram":
        params["model"] = str(tiny_encoder())  # a tokenizer folder: the payload, not an LM, is measured
    corpus = synthetic_corpus(size)
    out = WORK / f"{name}-{size}"
    built, build_rss = _child(BUILD, str(corpus), str(out), kind, json.dumps(params))
    row = {"kind": name, "documents": size, "build_seconds": round(built["seconds"], 1),
           "build_peak_rss_mib": round(build_rss / 2 ** 20), "build_peak_anon_mib": round(built["peak_anon"] / 2 ** 20),
           "disk_mib": round(folder_bytes(out) / 2 ** 20, 1)}
    if cached_encoding and "use_cache" in params:
        row["cached_encoding"] = True  # the build read vectors another build encoded: no encoding in it
    if kind != "ngram":  # generative search needs a causal LM: measured by benchmarks/generative.py
        searched, search_rss = _child(SEARCH, str(out), str(queries))
        row.update(queries_per_second=round(searched["queries"] / searched["seconds"], 1),
                   search_peak_rss_mib=round(search_rss / 2 ** 20),
                   search_peak_anon_mib=round(searched["peak_anon"] / 2 ** 20))
    print(json.dumps(row), flush=True)
    return row


def projection(rows: list[dict]) -> list[dict]:
    """Per kind, extrapolation from its measured sizes to 10M and MS MARCO.

    Time and disk: linear in documents from the largest size. Peak build memory: the largest size's
    peak plus the growth per document between the two largest sizes times the added documents, given
    only when the largest size is 1M (below that, one-off costs such as the longest batch's attention
    dominate the growth and a linear extrapolation would mislead). Encoding kinds also get the real
    encoder's cost: all-MiniLM-L6-v2 at the CPU rate above and at an assumed GPU rate.
    """
    by_kind: dict[str, list[dict]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    out = []
    for name, group in by_kind.items():
        group.sort(key=lambda r: r["documents"])
        row = group[-1]
        timed = [r for r in group if not r.get("cached_encoding")] or group
        hours_from = timed[-1]  # a build from cached vectors did not encode: its time says nothing of encoding
        per_document, basis = None, "build_peak_rss_mib"
        if len(group) > 1 and row["documents"] >= 1_000_000 and not row.get("cached_encoding"):
            before = group[-2]
            # The process's own memory where both sizes sampled it: RSS also counts the pages of mapped
            # payload files (a muvera build's token store), which the kernel drops under pressure.
            if row.get("build_peak_anon_mib") and before.get("build_peak_anon_mib"):
                basis = "build_peak_anon_mib"
            per_document = max(0.0, (row[basis] - before[basis]) / (row["documents"] - before["documents"]))
        for target, size in (("10M", 10_000_000), ("MS MARCO", MSMARCO)):
            scale = size / row["documents"]
            entry = {"kind": name, "target": target, "from": row["documents"],
                     "build_hours_this_cpu": round(hours_from["build_seconds"] * size / hours_from["documents"] / 3600, 2),
                     "disk_gib": round(row["disk_mib"] * scale / 1024, 1),
                     "build_peak_gib": None if per_document is None else
                     round((row[basis] + per_document * (size - row["documents"])) / 1024, 1),
                     "build_peak_basis": "anon" if basis == "build_peak_anon_mib" else "rss"}
            if name in ENCODING_KINDS:
                entry["minilm_encode_hours_this_cpu"] = round(size / MINILM_CPU_DOCS_PER_SECOND / 3600, 1)
                entry["minilm_encode_hours_one_gpu"] = round(size / MINILM_GPU_DOCS_PER_SECOND / 3600, 2)
            out.append(entry)
    return out


def _peak(projected: dict) -> str:
    """A projected peak with what it is projected from (anonymous memory, or RSS with mapped pages)."""
    if projected["build_peak_gib"] is None:
        return ""
    return f"{projected['build_peak_gib']} ({projected.get('build_peak_basis', 'rss')})"


def markdown(rows: list[dict], projected: list[dict]) -> str:
    lines = ["Peak RSS includes the resident pages of memory-mapped payload files (the token store, vectors, "
             "docstore), which the kernel can drop; anon = the process's own memory (sampled every 50 ms; blank "
             "where measured before the sampler existed).", "",
             "| kind | documents | build s | build peak RSS MiB | build peak anon MiB | disk MiB | queries/s (k=1000) "
             "| search peak RSS MiB | search peak anon MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        seconds = f"{r['build_seconds']} (cached encoding)" if r.get("cached_encoding") else r["build_seconds"]
        lines.append(f"| {r['kind']} | {r['documents']:,} | {seconds} | {r['build_peak_rss_mib']} | "
                     f"{r.get('build_peak_anon_mib', '')} | {r['disk_mib']} | {r.get('queries_per_second', '')} | "
                     f"{r.get('search_peak_rss_mib', '')} | {r.get('search_peak_anon_mib', '')} |")
    lines += ["", "Growth from the smallest to the largest size measured:", "",
              "| kind | documents x | build time x | build peak RSS x | disk x |", "|---|---:|---:|---:|---:|"]
    by_kind: dict[str, list[dict]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    for name, group in by_kind.items():
        group.sort(key=lambda r: r["documents"])
        a, b = group[0], group[-1]
        if a is not b:
            time_growth = "(cached encoding)" if b.get("cached_encoding") else f"{b['build_seconds'] / a['build_seconds']:.1f}"
            lines.append(f"| {name} | {b['documents'] / a['documents']:.0f} | {time_growth} "
                         f"| {b['build_peak_rss_mib'] / a['build_peak_rss_mib']:.2f} | {b['disk_mib'] / a['disk_mib']:.1f} |")
    lines += ["", "On-paper projection: build hours and disk linear in documents from the largest size measured "
              "(this CPU; the tiny encoder for the encoding kinds); peak build memory = the 1M peak plus the growth per "
              "document from 100k to 1M (blank where 1M was not measured), of the process's own memory (anon) where "
              "both sizes sampled it, else of RSS, which counts mapped payload pages; real encoding with all-MiniLM-L6-v2 at "
              f"{MINILM_CPU_DOCS_PER_SECOND:.0f} docs/s on this CPU and an assumed {MINILM_GPU_DOCS_PER_SECOND:,.0f} "
              "docs/s on one A100/H100-class GPU (not measured: no GPU was lent).", "",
              "| kind | target | from | build hours (as measured) | peak build GiB | disk GiB | MiniLM encoding h, this CPU "
              "| MiniLM encoding h, one GPU |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for p in projected:
        lines.append(f"| {p['kind']} | {p['target']} | {p['from']:,} | {p['build_hours_this_cpu']} | "
                     f"{_peak(p)} | {p['disk_gib']} | {p.get('minilm_encode_hours_this_cpu', '')} | "
                     f"{p.get('minilm_encode_hours_one_gpu', '')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated corpus sizes.")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"Comma-separated, from: {', '.join(KINDS)}.")
    parser.add_argument("--queries", type=int, default=QUERIES, help="Queries per search measurement.")
    parser.add_argument("--out", default=str(RESULTS / "scale"), help="Output path without suffix.")
    parser.add_argument("--report-only", action="store_true", help="Rewrite the tables from the JSON; measure nothing.")
    parser.add_argument("--cached-encoding", action="store_true",
                        help="Encoding kinds reuse vectors already in the embedding or token cache (e.g. a "
                             "multivector build after a muvera build of the same corpus, which encodes the "
                             "same token store); the row says so.")
    args = parser.parse_args()
    os.environ.setdefault("REGARD_DATA", str(ROOT.parent.parent / "shared" / "datasets"))
    os.environ.setdefault("REGARD_CACHE", str(WORK / "cache"))
    out = Path(args.out)
    # Earlier measurements in the same file are kept unless measured again (runs can be split by size).
    rows = json.loads(out.with_suffix(".json").read_text())["rows"] if out.with_suffix(".json").exists() else []
    for size in ([] if args.report_only else (int(s) for s in args.sizes.split(","))):
        for name in args.kinds.split(","):
            rows = [r for r in rows if (r["kind"], r["documents"]) != (name, size)]
            rows.append(measure(name, size, args.queries, args.cached_encoding))
    rows.sort(key=lambda r: (list(KINDS).index(r["kind"]), r["documents"]))
    projected = projection(rows)
    report = {"rows": rows, "projection": projected, "note": "2-core CPU shared with other jobs: times are noisy; "
              "memory figures are not", "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(rows, projected)
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
