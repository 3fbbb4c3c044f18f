"""A local Hugging Face causal LM with the few operations the rerankers need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from regard.encoders.dense import effective_precision
from regard.models import choose_device, loading_model
from regard.lm.loading import DEFAULT_INSTRUCT_LLM, resolve_causal_lm

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
_PLACEHOLDER = "\u2063REGARD_CONTENT\u2063"
_CONTEXT_CAP = 131_072  # tokenizers report 1e30 when they do not know the model's context


@dataclass
class Generation:
    """A generated text and what it cost."""

    text: str
    prompt_tokens: int
    generated_tokens: int


class CausalLM:
    """A causal LM and its tokenizer on one device, with chat-template handling.

    Instruction-tuned models are prompted through their chat template; base models (no template) get
    the messages' contents joined by blank lines. ``precision`` "auto" loads the weights in bfloat16
    on CPUs that have it, in float16 on GPUs, else in float32.
    """

    def __init__(self, model, tokenizer, *, name: str, revision: str | None = None, device: str = "cpu",
                 precision: str = "fp32"):
        self.model, self.tokenizer = model, tokenizer
        self.name, self.revision, self.device, self.precision = name, revision, device, precision
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    @classmethod
    def load(cls, name: str = DEFAULT_INSTRUCT_LLM, *, device: str | None = None, precision: str = "auto",
             attention: str = "sdpa", trust_remote_code: bool = False) -> "CausalLM":
        """Load a causal LM by hub name or path (offline sources first, see ``resolve_causal_lm``)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        resolved = resolve_causal_lm(name)
        device = choose_device(device)
        precision = effective_precision(precision, device)
        # Weights are stored in the chosen precision: on a CPU, autocast over float32 weights spends a third
        # of a forward pass converting activations back and forth (bf16 weights measured 1.5x faster).
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        with loading_model(resolved):
            tokenizer = AutoTokenizer.from_pretrained(resolved.location, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                resolved.location, dtype=dtype, attn_implementation=attention, trust_remote_code=trust_remote_code,
            ).to(device).eval()
        return cls(model, tokenizer, name=resolved.name, revision=resolved.revision, device=device,
                   precision=precision)

    @property
    def identity(self) -> str:
        """What determines the outputs: model, revision and precision."""
        return f"{self.name}@{self.revision or '-'}:{self.precision}"

    @property
    def context_length(self) -> int:
        """The longest prompt the model accepts, in tokens."""
        limits = [getattr(self.model.config, "max_position_embeddings", None), self.tokenizer.model_max_length]
        return min([int(x) for x in limits if x and x < 10**9] + [_CONTEXT_CAP])

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for ``messages``, ending where the assistant's answer begins."""
        if self.has_chat_template:
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def user_turn_parts(self) -> tuple[str, str]:
        """The template text before and after one user message's content (empty for base models)."""
        if not self.has_chat_template:
            return "", ""
        text = self.render([{"role": "user", "content": _PLACEHOLDER}])
        before, after = text.split(_PLACEHOLDER)
        return before, after

    def encode(self, text: str, first: bool = True) -> list[int]:
        """Token ids of ``text``; ``first`` adds the tokenizer's BOS when the text is not a rendered template."""
        special = first and not self.has_chat_template
        return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.encode(self.render(messages)))

    def generate(self, messages: Sequence[Message], max_new_tokens: int) -> Generation:
        """Greedy continuation of the rendered ``messages``."""
        import torch

        ids = self.encode(self.render(messages))
        inputs = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            output = self.model.generate(
                inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id, top_p=None, top_k=None, temperature=None,
            )
        new = output[0, len(ids):]
        return Generation(self.tokenizer.decode(new, skip_special_tokens=True), len(ids), int(new.numel()))

    def next_token_logits(self, prompts: Sequence[list[int]], batch_size: int = 8):
        """The logits of the token after each prompt (a float32 tensor, prompts × vocabulary).

        Prompts of similar length are batched, padded on the left with positions counted from each
        prompt's first real token, so only the last position's logits are computed.
        """
        import torch

        rows = []
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = [prompts[i] for i in order[start:start + batch_size]]
                width = max(len(p) for p in batch)
                ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=self.device)
                mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=self.device)
                positions = (mask.cumsum(1) - 1).clamp(min=0)
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1).logits
                rows.append(logits[:, -1].float().cpu())
        stacked = torch.cat(rows)
        result = torch.empty_like(stacked)
        result[torch.tensor(order)] = stacked
        return result

    def start_beams(self, prompt: list[int]):
        """Encode ``prompt`` once: the logits of the next token (a float32 tensor, 1 × vocabulary) and the KV cache.

        The cache holds one row (the prompt); :meth:`extend_beams` reorders it into beams and grows it.
        """
        import torch

        with torch.inference_mode():
            output = self.model(input_ids=torch.tensor([prompt], device=self.device), use_cache=True, logits_to_keep=1)
        return output.logits[:, -1].float().cpu(), _returned_cache(output)

    def extend_beams(self, cache, parents: Sequence[int], tokens: Sequence[int]):
        """Logits after one more token per beam (a float32 tensor, beams × vocabulary), growing ``cache`` in place.

        Beam ``i`` continues row ``parents[i]`` of the cache with ``tokens[i]``: the cache is reordered (rows
        repeated or dropped) to the new beams first, so every row sees only its own prefix. All rows have the
        same length, so no padding is involved.
        """
        import torch

        with torch.inference_mode():
            cache.reorder_cache(torch.tensor(list(parents), device=self.device))
            ids = torch.tensor([[t] for t in tokens], device=self.device)
            logits = self.model(input_ids=ids, **self._cache_argument(cache), use_cache=True, logits_to_keep=1).logits
        return logits[:, -1].float().cpu()

    def next_token_logits_with_prefix(self, prompts: Sequence[list[int]], batch_size: int = 8):
        """As :meth:`next_token_logits`, with the prompts' longest common token prefix encoded once.

        The shared prefix's KV cache is copied to every batch; the rest of each prompt is padded on the
        right (padding after a sequence never reaches its real tokens under causal attention, also within a
        sliding window) and each row's logits are read at its own last token.
        """
        import copy

        import torch

        shared = encoded_once_length(prompts)
        if not shared:
            return self.next_token_logits(prompts, batch_size=batch_size)
        pad = self.tokenizer.pad_token_id
        rows = []
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        with torch.inference_mode():
            prefix = torch.tensor([prompts[0][:shared]], device=self.device)
            prefix_cache = _returned_cache(self.model(input_ids=prefix, use_cache=True, logits_to_keep=1))
            for start in range(0, len(order), batch_size):
                rests = [prompts[i][shared:] for i in order[start:start + batch_size]]
                width = max(len(r) for r in rests)
                ids = torch.tensor([r + [pad] * (width - len(r)) for r in rests], device=self.device)
                mask = torch.tensor([[1] * (shared + len(r)) + [0] * (width - len(r)) for r in rests],
                                    device=self.device)
                positions = torch.arange(shared, shared + width, device=self.device).expand(len(rests), -1)
                last = torch.tensor([[len(r) - 1] for r in rests], device=self.device)
                cache = copy.deepcopy(prefix_cache)
                cache.batch_repeat_interleave(len(rests))
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                    **self._cache_argument(cache), use_cache=True, logits_to_keep=last).logits
                rows.append(logits[:, -1].float().cpu())
        stacked = torch.cat(rows)
        result = torch.empty_like(stacked)
        result[torch.tensor(order)] = stacked
        return result

    def _cache_argument(self, cache) -> dict:
        """The keyword a KV cache is passed by: ``cache`` from transformers 5.2x, ``past_key_values`` before."""
        import inspect

        takes_cache = "cache" in inspect.signature(self.model.forward).parameters
        return {"cache" if takes_cache else "past_key_values": cache}


def _returned_cache(output):
    """The KV cache a forward pass returned (``cache`` or, in older transformers, ``past_key_values``)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def encoded_once_length(prompts: Sequence[list[int]]) -> int:
    """How many leading tokens :meth:`CausalLM.next_token_logits_with_prefix` encodes once for all ``prompts``
    (0: none shared, each prompt is encoded whole); every prompt keeps at least one token of its own."""
    shared = common_prefix_length(prompts)
    return shared - 1 if shared >= 2 and len(prompts) >= 2 else 0


def common_prefix_length(sequences: Sequence[list[int]]) -> int:
    """The number of leading tokens all ``sequences`` share."""
    first, length = sequences[0], min(len(s) for s in sequences)
    for other in sequences[1:]:
        shared = 0
        while shared < length and other[shared] == first[shared]:
            shared += 1
        length = shared
    return length
