"""Batches whose attention fits a budget: rows × padded length² per forward pass.

A transformer's self-attention materialises a rows × heads × length × length score tensor when a
padding mask is given. At a batch size chosen for short passages, the longest passages (512 tokens)
multiply that tensor by 16 against 128-token ones, and the process's peak memory with it (measured in
`benchmarks/encode_batch_memory.py`: 604 MiB at 64 rows, 1,031 MiB at 256). Capping rows × length²
splits only the long batches; batches of short passages keep the full batch size.
"""

from __future__ import annotations

from typing import Any

# A batch of ``batch_size`` rows of this many tokens is never split: the default budget is
# batch_size × REFERENCE_LENGTH², so models with 256 positions or fewer (all-MiniLM-L6-v2) batch as before.
REFERENCE_LENGTH = 256


def default_attention_budget(batch_size: int) -> int:
    """The budget that leaves batches of up to ``REFERENCE_LENGTH`` tokens whole."""
    return batch_size * REFERENCE_LENGTH * REFERENCE_LENGTH


def rows_within_budget(length: int, batch_size: int, budget: int | None) -> int:
    """How many rows of ``length`` tokens one pass may take: at most ``batch_size``, at least one."""
    if budget is None or length <= 0:
        return batch_size
    return max(1, min(batch_size, budget // (length * length)))


def split_features(features: dict[str, Any], budget: int | None) -> list[tuple[Any, dict[str, Any]]]:
    """Split tokenised features (with an ``attention_mask``) into passes within ``budget``.

    Returns (row positions, features) pairs. Each part takes the longest remaining rows first and drops
    the padding columns none of its rows uses, on either side, so left-padding tokenisers work too.
    A batch within budget is returned whole, untouched.
    """
    import torch

    mask = features["attention_mask"]
    rows, width = mask.shape
    if budget is None or rows * width * width <= budget:
        return [(torch.arange(rows), features)]
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths, descending=True, stable=True)
    parts = []
    start = 0
    while start < rows:
        size = rows_within_budget(int(lengths[order[start]]), rows, budget)
        picked = order[start:start + size]
        columns = mask[picked].bool().any(dim=0)
        part = {}
        for name, value in features.items():
            if isinstance(value, torch.Tensor) and value.shape[:2] == mask.shape:
                part[name] = value[picked][:, columns]
            elif isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == rows:
                part[name] = value[picked]
            else:
                part[name] = value
        parts.append((picked, part))
        start += size
    return parts
