"""Pointwise LLM relevance: the probability of "Yes" against "No" as the next token, one prompt per document."""

from __future__ import annotations

from regard.data.types import Query
from regard.rerank.llm.cost import QueryCost
from regard.rerank.docs import DocumentSource
from regard.lm.causal import CausalLM, encoded_once_length
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM
from regard.rerank.llm_stage import DEFAULT_MAX_WORDS, LLMReranker

QUESTION = "Is the document relevant to the query? Answer Yes or No."


class Pointwise(LLMReranker):
    """Scores each candidate by log P("Yes") − log P("No") for the next token (the baseline for ICR and listwise).

    Both spellings with and without a leading space count, so base models prompted with "Answer:"
    and chat models starting a turn score alike. A forward pass is counted per document; documents
    are batched ``batch_size`` at a time. With ``share_prefix`` (the default) the tokens every prompt of a
    query starts with (template, instruction, query) are encoded once per query and their KV cache is
    reused for each batch of documents; the scores equal those of separate prompts up to float rounding.
    """

    def __init__(self, docs: DocumentSource, model: str | CausalLM = DEFAULT_INSTRUCT_LLM, *,
                 max_words: int | None = DEFAULT_MAX_WORDS, batch_size: int = 8, device: str | None = None,
                 precision: str = "auto", trust_remote_code: bool = False, share_prefix: bool = True):
        super().__init__(docs, max_words)
        self.llm = model if isinstance(model, CausalLM) else CausalLM.load(
            model, device=device, precision=precision, trust_remote_code=trust_remote_code)
        self.batch_size, self.share_prefix = batch_size, share_prefix
        self.yes, self.no = self._answer_tokens("Yes"), self._answer_tokens("No")
        self.name = f"Pointwise({self.llm.name.split('/')[-1]})"

    def _answer_tokens(self, word: str) -> list[int]:
        ids = {self.llm.encode(variant, first=False)[0] for variant in (word, " " + word)}
        return sorted(ids)

    def prompt(self, query: str, text: str) -> list[int]:
        content = f"Query: {query}\nDocument: {text}\n{QUESTION}"
        suffix = "" if self.llm.has_chat_template else "Answer:"
        return self.llm.encode(self.llm.render([{"role": "user", "content": content}]) + suffix)

    def rerank_one(self, query: Query, docids: list[str], texts: list[str],
                   record: QueryCost) -> list[tuple[str, float]]:
        import torch

        prompts = [self.prompt(query.text, text) for text in texts]
        score_next = self.llm.next_token_logits_with_prefix if self.share_prefix else self.llm.next_token_logits
        logits = score_next(prompts, batch_size=self.batch_size)
        log_probs = torch.log_softmax(logits, dim=-1)
        scores = torch.logsumexp(log_probs[:, self.yes], dim=1) - torch.logsumexp(log_probs[:, self.no], dim=1)
        # What was computed: with a shared prefix, one pass encodes it and each prompt adds only its own tokens.
        shared = encoded_once_length(prompts) if self.share_prefix else 0
        record.forward_passes += len(prompts) + (1 if shared else 0)
        record.prompt_tokens += sum(len(p) for p in prompts) - shared * (len(prompts) - 1)
        return [(docid, float(score)) for docid, score in zip(docids, scores)]
