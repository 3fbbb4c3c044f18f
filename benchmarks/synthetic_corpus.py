"""Synthetic corpora for scale work, made deterministically from real sentences of the shared datasets.

Each passage is 2-5 sentences drawn (seeded) from the SciFact abstracts, the MS MARCO passages of the
DL19 slice and the NPL (Vaswani) abstracts; ids are ``s<number>``. The corpus is written once as JSONL
into a cache folder (``benchmarks/.work/synthetic`` unless ``--out`` says otherwise) and reused:
nothing of it is committed. The same size and seed always give the same bytes.

    python benchmarks/synthetic_corpus.py --size 100000          # prints the file's path
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / ".work" / "synthetic"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def _shared_datasets() -> Path:
    for candidate in (os.environ.get("REGARD_DATA", ""), str(ROOT.parent.parent / "shared" / "datasets")):
        for folder in filter(None, candidate.split(os.pathsep)):
            if (Path(folder) / "scifact" / "corpus.jsonl").exists():
                return Path(folder)
    sys.exit("the shared datasets were not found: set REGARD_DATA")


def real_sentences(datasets: Path | None = None) -> list[str]:
    """Sentences of at least 5 words from the shared datasets' documents, in file order."""
    datasets = datasets or _shared_datasets()
    texts: list[str] = []
    for name in ("scifact", "trec_dl19_passage_bm25top100"):
        with open(datasets / name / "corpus.jsonl", encoding="utf-8") as handle:
            texts.extend(json.loads(line)["text"] for line in handle if line.strip())
    npl = datasets / "vaswani_npl" / "corpus" / "doc-text.trec"
    if npl.exists():
        raw = npl.read_text(encoding="utf-8", errors="replace")
        texts.extend(re.sub(r"\s+", " ", body).strip()
                     for body in re.findall(r"</DOCNO>(.*?)</DOC>", raw, flags=re.S))
    sentences = []
    for text in texts:
        sentences.extend(s.strip() for s in _SENTENCE_END.split(text) if len(s.split()) >= 5)
    return sentences


def synthetic_corpus(size: int, seed: int = 13, out: Path = DEFAULT_OUT) -> Path:
    """The path of a JSONL corpus of ``size`` passages (built on first use, then reused)."""
    path = Path(out) / f"synthetic-{size}-seed{seed}.jsonl"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    sentences = real_sentences()
    rng = np.random.default_rng(seed)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for start in range(0, size, 100_000):
            count = min(100_000, size - start)
            lengths = rng.integers(2, 6, count)
            picks = rng.integers(0, len(sentences), int(lengths.sum()))
            offset = 0
            for i, length in enumerate(lengths.tolist()):
                text = " ".join(sentences[j] for j in picks[offset:offset + length].tolist())
                offset += length
                handle.write(json.dumps({"_id": f"s{start + i}", "title": "", "text": text}) + "\n")
    os.replace(partial, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True, help="Number of passages.")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Cache folder of the corpora.")
    args = parser.parse_args()
    print(synthetic_corpus(args.size, args.seed, args.out))


if __name__ == "__main__":
    main()
