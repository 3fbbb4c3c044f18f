"""Reproducible experiments: pipeline configs, cached indexes and stage outputs, runs and benchmarks."""
