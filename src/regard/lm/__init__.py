"""The model layer of causal language models: where they come from (name resolution, offline GGUF packages).

The n-gram index, generative retrieval, the LLM rerankers and training all use it; it imports none of them.
"""
