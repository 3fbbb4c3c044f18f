"""Pipeline-config stage types of the stages that run a causal LM: the rerankers ``icr``, ``listwise`` and
``pointwise``, and SEAL retrieval ``generative``."""

from __future__ import annotations

from regard.lm.loading import DEFAULT_INSTRUCT_LLM
from regard.pipeline import Stage
from regard.retrieval.generative import BEAM_SIZE, DEFAULT_PROMPT, FIRST_TOKENS, MAX_LENGTH
from regard.retrieval.seal import ALPHA, BETA, MAX_OCCURRENCES, SMOOTHING
from regard.rerank.llm_stage import DEFAULT_MAX_WORDS
from regard.experiments.stages import Params, StageContext, register_stage

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
    return context.reranker(ICR, model, "icr", **options) or _loaded(
        ICR(context.document_index(), model, device=context.device, **options), context, "icr")


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
    if not base_url and (distributed := context.reranker(Listwise, model, "listwise", **options)) is not None:
        return distributed
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
    return context.reranker(Pointwise, model, "pointwise", **options) or _loaded(
        Pointwise(context.document_index(), model, device=context.device, **options), context, "pointwise")


@register_stage("generative", shorthand="model")
def _generative(params: Params, context: StageContext) -> Stage:
    """SEAL generative retrieval (``retrieval/generative.py``) over an ngram index of the dataset (built with ``model``'s tokenizer).

    Parameters: model, beam_size, max_length, first_tokens, prompt, alpha, beta, smoothing,
    max_occurrences, precision, k.
    """
    model = params.get("model", str, DEFAULT_INSTRUCT_LLM)
    options = dict(
        beam_size=params.positive("beam_size", BEAM_SIZE), max_length=params.positive("max_length", MAX_LENGTH),
        first_tokens=params.choice("first_tokens", FIRST_TOKENS, "word"),
        prompt=params.get("prompt", str, DEFAULT_PROMPT), alpha=params.get("alpha", float, ALPHA),
        beta=params.get("beta", float, BETA), smoothing=params.get("smoothing", float, SMOOTHING),
        max_occurrences=params.positive("max_occurrences", MAX_OCCURRENCES),
        precision=params.choice("precision", ("auto", "fp32", "bf16", "fp16"), "auto"),
    )
    k = params.positive("k", 1000)
    if "{query}" not in options["prompt"]:
        raise params.at("prompt").error("the prompt template must contain '{query}'")
    if not 0.0 <= options["beta"] <= 1.0:
        raise params.at("beta").error(f"must lie in [0, 1], got {options['beta']}")
    for name in ("alpha", "smoothing"):
        if options[name] <= 0:
            raise params.at(name).error(f"must be positive, got {options[name]}")
    params.finish()
    index = context.index("ngram", model=model)
    from regard.retrieval.generative import Generative

    stage = Generative(index, k=k, device=context.device, **options)
    context.record_model("generative", stage.llm.name, getattr(stage.llm, "revision", None),
                         precision=getattr(stage.llm, "precision", None))
    return stage

