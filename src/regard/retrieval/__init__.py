"""Retrieval stages: index -> Run, and fusion of runs."""

from regard.retrieval.fusion import ReciprocalRankFusion, WeightedScoreFusion, reciprocal_rank_fusion, weighted_score_fusion

__all__ = ["ReciprocalRankFusion", "WeightedScoreFusion", "reciprocal_rank_fusion", "weighted_score_fusion"]
