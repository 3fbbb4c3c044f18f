"""Generative retrieval (SEAL) with the real offline SmolLM2-135M-Instruct over an n-gram index of SciFact."""

from __future__ import annotations

import pytest

from regard import Index
from regard.indexing.fmindex import document_text
from regard.rerank.llm.loading import DEFAULT_INSTRUCT_LLM

pytestmark = pytest.mark.integration


def test_generative_retrieval_on_scifact_with_smollm2(scifact, tmp_path):
    queries = scifact.queries("test")[:1]
    index = Index.build(scifact, tmp_path / "scifact-ngram", kind="ngram", model=DEFAULT_INSTRUCT_LLM)
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
