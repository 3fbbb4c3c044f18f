"""Tiny randomly initialised causal LMs (Llama and Gemma 3 architectures) for the LLM reranker tests."""

from __future__ import annotations

import torch

from regard.models import resolve_model
from regard.lm.causal import CausalLM

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<assistant> {% endif %}")


def tiny_tokenizer(chat: bool = True):
    """all-MiniLM-L6-v2's WordPiece tokenizer (installed offline), with a small chat template when ``chat``."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    tokenizer.chat_template = CHAT_TEMPLATE if chat else None
    return tokenizer


def tiny_llm(architecture: str = "llama", attention: str = "sdpa", chat: bool = True, seed: int = 0) -> CausalLM:
    """A two-layer causal LM with grouped-query attention; Gemma 3 gets a sliding window of 8 tokens."""
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig

    tokenizer = tiny_tokenizer(chat)
    common = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                  pad_token_id=tokenizer.pad_token_id)
    if architecture == "llama":
        config = LlamaConfig(**common)
    else:
        config = Gemma3TextConfig(**common, head_dim=8, sliding_window=8,
                                  layer_types=["sliding_attention", "full_attention"])
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation=attention).eval()
    return CausalLM(model, tokenizer, name=f"tiny-{architecture}", device="cpu", precision="fp32")
