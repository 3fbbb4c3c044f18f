"""Causal-LM resolution now lives in the model layer, :mod:`regard.lm.loading`; re-exported for existing imports."""

from regard.lm.loading import DEFAULT_BASE_LLM, DEFAULT_INSTRUCT_LLM, GGUF_PACKAGES, resolve_causal_lm

__all__ = ["DEFAULT_BASE_LLM", "DEFAULT_INSTRUCT_LLM", "GGUF_PACKAGES", "resolve_causal_lm"]
