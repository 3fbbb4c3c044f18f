"""Pipeline-config stage types for the LLM rerankers: ``icr``, ``listwise`` and ``pointwise``."""

from __future__ import annotations

from regard.pipeline import Stage
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM
from regard.rerank.llm_stage import DEFAULT_MAX_WORDS
from regard.stages_registry import Params, StageContext, register_stage

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _common(params: Params) -> dict:
    return dict(max_words=params.get("max_words", int, DEFAULT_MAX_WORDS),
                precision=params.choice("precision", PRECISIONS, "auto"))


def _loaded(stage, context: StageContext, role: str) -> Stage:
    llm = stage.llm
    context.record_model(role, llm.name, getattr(llm, "revision", None), precision=getattr(llm, "precision", None),
                         max_words=stage.max_words)
    return stage


@register_stage("icr", shorthand="model")
def _icr(params: Params, context: StageContext) -> Stage:
    """In-context reranking from attention; model, calibrate, max_words, reverse, max_context, precision."""
    from regard.rerank.icr import ICR

    model = params.get("model", str, DEFAULT_INSTRUCT_LLM)
    options = dict(calibrate=params.get("calibrate", bool, True), reverse=params.get("reverse", bool, True),
                   max_context=params.get("max_context", int, None), **_common(params))
    params.finish()
    return _loaded(ICR(context.document_index(), model, device=context.device, **options), context, "icr")


@register_stage("listwise", shorthand="model")
def _listwise(params: Params, context: StageContext) -> Stage:
    """RankGPT listwise reranking; model, window (none = full window), step, max_words, base_url (OpenAI-compatible)."""
    from regard.rerank.listwise import Listwise
    from regard.rerank.llm.openai_compat import OpenAICompatible

    model = params.get("model", str, DEFAULT_INSTRUCT_LLM)
    base_url = params.get("base_url", str, None)
    options = dict(window=params.get("window", int, None), step=params.positive("step", 10),
                   max_new_tokens=params.get("max_new_tokens", int, None), **_common(params))
    params.finish()
    docs = context.document_index()
    if base_url:
        options.pop("precision")
        stage = Listwise(docs, OpenAICompatible(base_url, model), **options)
    else:
        stage = Listwise(docs, model, device=context.device, **options)
    return _loaded(stage, context, "listwise")


@register_stage("pointwise", shorthand="model")
def _pointwise(params: Params, context: StageContext) -> Stage:
    """Pointwise LLM relevance (log-odds of Yes over No); model, max_words, batch_size, precision."""
    from regard.rerank.pointwise import Pointwise

    model = params.get("model", str, DEFAULT_INSTRUCT_LLM)
    options = dict(batch_size=params.positive("batch_size", 8), **_common(params))
    params.finish()
    return _loaded(Pointwise(context.document_index(), model, device=context.device, **options), context, "pointwise")
