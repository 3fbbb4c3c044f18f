"""Paired significance tests between two systems' per-query scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Comparison:
    """Mean of A and B over the same queries, B - A, and two-sided p-values."""

    metric: str
    queries: int
    mean_a: float
    mean_b: float
    p_ttest: float
    p_permutation: float

    @property
    def delta(self) -> float:
        return self.mean_b - self.mean_a


def paired_test(scores_a: dict[str, float], scores_b: dict[str, float], metric: str = "",
                permutations: int = 10000, seed: int = 0) -> Comparison:
    """Paired t-test and paired randomisation (sign-flip) test over the queries both systems share."""
    qids = sorted(set(scores_a) & set(scores_b))
    if not qids:
        raise ValueError("the two systems share no queries")
    a = np.array([scores_a[q] for q in qids])
    b = np.array([scores_b[q] for q in qids])
    diff = b - a
    if np.allclose(diff, 0):
        p_t = p_perm = 1.0
    else:
        p_t = float(stats.ttest_rel(b, a).pvalue)
        rng = np.random.default_rng(seed)
        signs = rng.choice([-1.0, 1.0], size=(permutations, len(diff)))
        observed = abs(diff.mean())
        hits = int((np.abs((signs * diff).mean(axis=1)) >= observed - 1e-12).sum())
        # The observed assignment is one of the possible ones: (hits + 1) / (trials + 1), never 0.
        p_perm = (hits + 1) / (permutations + 1)
    return Comparison(metric, len(qids), float(a.mean()), float(b.mean()), p_t, p_perm)
