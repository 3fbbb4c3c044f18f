#!/usr/bin/env python
"""Peak anonymous memory of encoding the 2,048 longest passages of the 100k synthetic corpus with the scale
benchmark's tiny encoder at one batch size: what sets a dense build's peak (the longest batch), apart
from anything kept per document.

    .venv/bin/python benchmarks/encode_batch_memory.py 64     # then 256; prints one JSON line each
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import tiny_encoder  # noqa: E402
from synthetic_corpus import synthetic_corpus  # noqa: E402

PEAK_ANON_KIB = [0]


def sample_anonymous_memory() -> None:
    """Keep the largest RssAnon (the process's own memory, not mapped files) seen, every 20 ms."""
    while True:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    PEAK_ANON_KIB[0] = max(PEAK_ANON_KIB[0], int(line.split()[1]))
        time.sleep(0.02)


def main() -> None:
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    threading.Thread(target=sample_anonymous_memory, daemon=True).start()
    from regard.encoders.dense import DenseEncoder

    with open(synthetic_corpus(100_000)) as corpus:
        longest = sorted((json.loads(line)["text"] for line in corpus), key=len, reverse=True)[:2048]
    encoder = DenseEncoder(str(tiny_encoder()), precision="fp32", batch_size=batch)
    encoder.encode(longest[:8])
    time.sleep(0.1)
    before = PEAK_ANON_KIB[0]
    encoder.encode(longest)
    time.sleep(0.1)
    print(json.dumps({"batch": batch, "anon_before_mib": before // 1024, "peak_anon_mib": PEAK_ANON_KIB[0] // 1024,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


if __name__ == "__main__":
    main()
