"""Language-model backends for the LLM rerankers: local Hugging Face causal LMs and OpenAI-compatible servers."""

from regard.rerank.llm.cost import CostMeter
from regard.lm.causal import CausalLM
from regard.rerank.llm.openai_compat import OpenAICompatible

__all__ = ["CausalLM", "CostMeter", "OpenAICompatible"]
