"""Evaluation: metrics, significance tests, and result tables."""

from regard.eval.metrics import DEFAULT_METRICS, Evaluation, evaluate, evaluate_full, parse_metric
from regard.eval.significance import Comparison, paired_test

__all__ = ["DEFAULT_METRICS", "Comparison", "Evaluation", "evaluate", "evaluate_full", "paired_test", "parse_metric"]
