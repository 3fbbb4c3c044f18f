"""Chunked retrieval: token windows, the chunk-to-document map, MaxP / FirstP / sum-of-top aggregation,
and a dense-chunked index (encoded with a tiny random M2-BERT, which also exercises the encoder choice)."""

from __future__ import annotations

import numpy as np
import pytest

from blank_queries import assert_blank_queries_get_empty_rankings
from regard.data.types import Document, Query, Run
from regard.encoders.m2bert import M2BertEncoder
from regard.indexing.chunks import ChunkMap, Chunker, chunk_corpus, chunk_documents, chunk_id, split_chunk_id
from regard.kinds import Index
from regard.models import resolve_model
from regard.pipeline import Stage
from regard.retrieval.chunked import ChunkAggregation, aggregate


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)


def test_windows_overlap_cover_the_text_and_are_substrings(tokenizer):
    text = " ".join(f"word{i}" if i % 3 else f"token {i}" for i in range(40))
    chunker = Chunker(tokenizer, chunk_tokens=12, overlap=3)  # 10 text tokens per window
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    windows = chunker.windows(text)
    assert windows[0][0] == 0 and windows[-1][1] == len(tokens) and len(windows) > 3
    for (start, end, chunk), following in zip(windows, windows[1:] + [None]):
        assert chunk in text and end - start <= 10
        assert tokenizer(chunk, add_special_tokens=False)["input_ids"] == tokens[start:end]
        if following is not None:
            assert start < following[0] <= end - 3  # progress, and at least 3 tokens shared
    assert chunker.split(text) == [chunk for _, _, chunk in windows]
    assert chunker.split("short text") == ["short text"]
    with pytest.raises(ValueError):
        Chunker(tokenizer, chunk_tokens=12, overlap=10)


def test_chunk_ids_and_map(tokenizer):
    assert split_chunk_id(chunk_id("doc#1", 12)) == ("doc#1", 12)
    with pytest.raises(ValueError):
        split_chunk_id("plain")
    docs = [Document("a", "one two three four five six seven eight nine ten eleven"), Document("b", "short"),
            Document("c", "alpha beta gamma delta epsilon zeta eta theta iota kappa")]
    chunks, offsets = chunk_documents(docs, Chunker(tokenizer, chunk_tokens=6, overlap=1))
    assert [c.id for c in chunks] == [c.id for c in chunk_corpus(docs, Chunker(tokenizer, chunk_tokens=6, overlap=1))]
    chunk_map = ChunkMap(offsets)
    assert offsets[0] == 0 and offsets[-1] == len(chunks)
    for position, chunk in enumerate(chunks):
        doc, number = split_chunk_id(chunk.id)
        assert docs[chunk_map.chunk_document[position]].id == doc
        assert chunk_map.chunk_number[position] == number
    assert chunk_map.chunks_of(np.array([1, 0])).tolist() == [offsets[1], *range(offsets[0], offsets[1])]


def test_aggregate_maxp_firstp_sumtop():
    documents = np.array([7, 3, 7, 7, 3, 5])
    numbers = np.array([0, 1, 1, 2, 0, 3])
    scores = np.array([0.1, 0.9, 0.5, 0.4, 0.2, 0.3])
    as_dict = lambda pair: dict(zip(pair[0].tolist(), np.round(pair[1], 6).tolist()))  # noqa: E731
    assert as_dict(aggregate(documents, numbers, scores, "maxp")) == {3: 0.9, 5: 0.3, 7: 0.5}
    assert as_dict(aggregate(documents, numbers, scores, "firstp")) == {7: 0.1, 3: 0.2}
    assert as_dict(aggregate(documents, numbers, scores, "sumtop", top_chunks=2)) == {3: 1.1, 5: 0.3, 7: 0.9}
    with pytest.raises(ValueError):
        aggregate(documents, numbers, scores, "mean")


def test_dense_chunked_index_scores_documents_from_their_chunks(tmp_path, tiny_m2, tokenizer):
    words = "retrieval long documents monarch convolution chunk window overlap score query answer".split()
    docs = [Document(f"d{i}", " ".join(words[(i + j * 3) % len(words)] for j in range(8 + 5 * i)), f"title {i}")
            for i in range(6)]
    index = Index.build(docs, tmp_path / "chunked", kind="dense-chunked", model=str(tiny_m2), chunk_tokens=12,
                        overlap=4, precision="fp32", use_cache=False)
    manifest = index.manifest
    assert manifest.kind == "dense-chunked" and manifest.document_count == 6
    chunks, offsets = chunk_documents(docs, Chunker(tokenizer, chunk_tokens=12, overlap=4))
    assert manifest.parameters["chunks"] == len(chunks) > len(docs)

    encoder = M2BertEncoder(str(tiny_m2), precision="fp32", max_length=12)
    chunk_vectors = encoder.encode([c.text for c in chunks])
    queries = [Query("q1", "monarch convolution"), Query("q2", "query answer overlap")]
    query_vectors = encoder.encode_queries([q.text for q in queries])
    chunk_map = ChunkMap(offsets)
    for mode in ("maxp", "firstp", "sumtop"):
        run = index.retriever(k=10, aggregate=mode, top_chunks=2)(queries)
        for query, vector in zip(queries, query_vectors):
            scores = chunk_vectors @ vector
            expected = {}
            for position, doc in enumerate(docs):
                own = scores[offsets[position]:offsets[position + 1]]
                expected[doc.id] = {"maxp": own.max(), "firstp": own[0], "sumtop": np.sort(own)[::-1][:2].sum()}[mode]
            got = dict(run[query.id])
            assert set(got) == set(expected)
            for doc_id, value in expected.items():
                assert got[doc_id] == pytest.approx(float(value), abs=1e-4), (mode, doc_id)
    assert len(chunk_map.chunk_document) == len(chunks)
    # after another stage: only the incoming documents are scored
    incoming = Run({"q1": [("d2", 1.0), ("d4", 0.5)], "q2": [("d0", 1.0)]})
    rescored = index.retriever(k=10)(queries, incoming)
    assert set(rescored.docids("q1")) == {"d2", "d4"} and rescored.docids("q2") == ["d0"]


class _FixedRun(Stage):
    name = "fixed"

    def __init__(self, run: Run):
        self.run = run

    def transform(self, queries, run):
        return self.run


def test_chunk_aggregation_of_a_chunk_level_stage():
    chunk_run = Run({"q": [("a#1", 0.9), ("b#0", 0.8), ("a#0", 0.3), ("b#2", 0.7), ("c#2", 0.1)]})
    queries = [Query("q", "text")]
    assert ChunkAggregation(_FixedRun(chunk_run), "maxp")(queries)["q"] == [("a", 0.9), ("b", 0.8), ("c", 0.1)]
    assert ChunkAggregation(_FixedRun(chunk_run), "firstp")(queries)["q"] == [("b", 0.8), ("a", 0.3)]
    summed = ChunkAggregation(_FixedRun(chunk_run), "sumtop", top_chunks=2, k=1)(queries)["q"]
    assert summed[0][0] == "b" and summed[0][1] == pytest.approx(1.5)


def test_index_command_builds_a_chunked_index(tmp_path, tiny_m2):
    from click.testing import CliRunner

    from regard.cli.main import cli

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(f'{{"_id": "d{i}", "text": "{" ".join(["long text"] * (4 + 6 * i))}"}}\n' for i in range(3)))
    result = CliRunner().invoke(cli, ["index", str(corpus), "--kind", "dense-chunked", "--out", str(tmp_path / "idx"),
                                      "--model", str(tiny_m2), "--chunk-tokens", "12", "--chunk-overlap", "2",
                                      "--aggregate", "firstp", "--precision", "fp32"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    index = Index.open(tmp_path / "idx")
    params = index.manifest.parameters
    assert (params["chunk_tokens"], params["chunk_overlap"], params["aggregate"]) == (12, 2, "firstp")
    assert params["chunks"] > 3
    retriever = index.retriever(k=3)
    assert retriever.mode == "firstp" and retriever.name.endswith("[firstp]")
    assert len(retriever.search("long text", k=3)) == 3


@pytest.mark.parametrize("kind", ["dense", "dense-chunked"])
def test_queries_without_search_terms_get_empty_rankings(tmp_path, tiny_m2, kind, caplog):
    docs = [Document(f"d{i}", f"monarch convolution window {i} overlap score", f"title {i}") for i in range(5)]
    extra = dict(chunk_tokens=12, overlap=4) if kind == "dense-chunked" else {}
    index = Index.build(docs, tmp_path / kind, kind=kind, model=str(tiny_m2), precision="fp32", use_cache=False, **extra)
    assert_blank_queries_get_empty_rankings(index.retriever(k=3), "monarch window", caplog)
