"""Attention from a span of query positions to every earlier position, without the full T×T matrices.

ICR needs, per layer, the attention weights of the query rows only. Asking transformers for
``output_attentions=True`` would keep every layer's full (heads × T × T) matrix; instead we register
an attention function that computes the layer's output with scaled-dot-product attention as usual
and, while a ``QueryRowAttention`` recording is active, also recomputes softmax(QKᵀ) for the query
rows alone and adds it, averaged over the query rows and summed over heads, to a running total over
layers. Memory stays linear in the prompt length.
"""

from __future__ import annotations

import threading

ATTENTION_NAME = "regard_query_rows"
_state = threading.local()
_registered = False


class QueryRowAttention:
    """Context manager: records attention from absolute positions ``[start, stop)`` during forward passes.

    ``total`` is a float32 vector over key positions: the attention of the query rows to each key,
    averaged over the query rows, summed over heads and layers (the ICR aggregation).
    """

    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop
        self.total = None
        self.layers = 0

    def __enter__(self) -> "QueryRowAttention":
        if getattr(_state, "recorder", None) is not None:
            raise RuntimeError("attention recordings cannot be nested")
        _state.recorder = self
        return self

    def __exit__(self, *exc) -> None:
        _state.recorder = None

    def add(self, weights) -> None:
        """Add one layer's query-row weights (batch 1 × heads × rows × keys)."""
        vector = weights[0].float().mean(1).sum(0)
        self.total = vector if self.total is None else self.total + vector
        self.layers += 1


def query_row_weights(query, key, attention_mask, scaling: float, start: int, stop: int):
    """Softmax attention weights of absolute query positions ``[start, stop)`` over all keys.

    ``query`` holds the last ``q_len`` positions of a sequence of ``kv_len`` keys (a KV cache may hold
    the rest); ``attention_mask`` is the layer's mask (additive float, boolean, or None for causal).
    """
    import torch

    q_len, kv_len = query.shape[2], key.shape[2]
    offset = kv_len - q_len
    local = slice(max(start - offset, 0), stop - offset)
    q = query[:, :, local].float()
    groups = q.shape[1] // key.shape[1]
    k = key.float().repeat_interleave(groups, dim=1) if groups > 1 else key.float()
    logits = torch.matmul(q, k.transpose(2, 3)) * scaling
    if attention_mask is None:
        positions = torch.arange(local.start, local.stop, device=q.device) + offset
        allowed = torch.arange(kv_len, device=q.device)[None, :] <= positions[:, None]
        logits = logits.masked_fill(~allowed, float("-inf"))
    else:
        mask = attention_mask[:, :, local, :kv_len]
        if mask.dtype == torch.bool:
            logits = logits.masked_fill(~mask, float("-inf"))
        else:
            logits = logits + mask.float()
    return torch.softmax(logits, dim=-1)


def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
               **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    output = sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                    **kwargs)
    recorder = getattr(_state, "recorder", None)
    if recorder is not None:
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        recorder.add(query_row_weights(query, key, attention_mask, scale, recorder.start, recorder.stop))
    return output


def register() -> str:
    """Register the recording attention with transformers (once) and return its name."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

        AttentionInterface.register(ATTENTION_NAME, _attention)
        AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
        _registered = True
    return ATTENTION_NAME
