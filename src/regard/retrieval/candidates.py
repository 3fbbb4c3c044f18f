"""Incoming candidates as index positions, looked up in the docstore (no id -> position dict in memory)."""

from __future__ import annotations

import numpy as np


def positions_in(docstore, doc_ids: list[str]) -> np.ndarray:
    """Index positions of ``doc_ids`` in their order; ids the index does not hold are dropped."""
    found = docstore.positions(doc_ids)
    return np.array([found[d] for d in dict.fromkeys(doc_ids) if d in found], dtype=np.int64)
