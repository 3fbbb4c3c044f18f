"""Generative retrieval (SEAL) with the real offline SmolLM2-135M-Instruct over an n-gram index of SciFact."""

from __future__ import annotations

import pytest

from regard import Index
from regard.indexing.fmindex import document_text
from regard.retrieval.generative import ConstrainedDecoder
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scifact_ngram(scifact, tmp_path_factory):
    return Index.build(scifact, tmp_path_factory.mktemp("ngram") / "scifact-ngram", kind="ngram",
                       model=DEFAULT_INSTRUCT_LLM)


def test_generative_retrieval_on_scifact_with_smollm2(scifact, scifact_ngram):
    queries = scifact.queries("test")[:1]
    index = scifact_ngram
    p = index.manifest.parameters
    assert index.manifest.document_count == 5183 and p["token_count"] > 1_000_000
    assert 1.0 < p["index_to_corpus_ratio"] < 3.0  # 8 bytes per token against about 4.7 bytes of text per token
    stage = index.retriever(k=20, beam_size=5, max_length=4)
    run = stage(queries)
    docs = index.docstore
    for query in queries:
        generated = stage.decoder.generate(query.text)
        texts = {stage.llm.tokenizer.decode(g.tokens) for g in generated}
        assert generated and all(stage.fm.count(g.tokens) > 0 for g in generated)
        hits = run[query.id]
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        for docid, _ in hits:
            doc = docs.get(docid)
            assert any(text in document_text(doc.title, doc.text) for text in texts)


def test_kv_cache_decoding_equals_full_recomputation_with_smollm2(scifact, scifact_ngram):
    stage = scifact_ngram.retriever(k=20, beam_size=5, max_length=4)
    recomputing = ConstrainedDecoder(stage.llm, stage.fm, beam_size=5, max_length=4, kv_cache=False)
    for query in scifact.queries("test")[:2]:
        cached, recomputed = stage.decoder.generate(query.text), recomputing.generate(query.text)
        assert [(g.tokens, g.span) for g in cached] == [(g.tokens, g.span) for g in recomputed]
        assert [g.logprob for g in cached] == pytest.approx([g.logprob for g in recomputed], abs=1e-3)
