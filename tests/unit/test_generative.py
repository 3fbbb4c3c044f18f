"""Generative n-gram retrieval (SEAL): the suffix-array index, SEAL's scoring, constrained decoding, the stage."""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from blank_queries import assert_blank_queries_get_empty_rankings
from llm_fixtures import tiny_llm, tiny_tokenizer
from regard.data.types import Document, Query
from regard.errors import BadIndexError, RegardError
from regard.indexing import fmindex
from regard.indexing.fmindex import FMIndex, document_text, write_fmindex
from regard.kinds import Index
from regard.models import resolve_model
from regard.retrieval.generative import ConstrainedDecoder, Generative, word_start_tokens
from regard.retrieval.seal import cover, intersective_scores, ngram_weight, weigh_ngrams

WORDS = ["protein", "cell", "virus", "vaccine", "gene", "mouse", "brain", "tumor", "blood", "heart", "lung", "drug"]


def _occurrences(docs: list[list[int]], ngram) -> list[int]:
    """Brute force: the document of every occurrence of ``ngram``."""
    ngram, found = list(ngram), []
    for d, doc in enumerate(docs):
        found += [d for i in range(len(doc) - len(ngram) + 1) if doc[i:i + len(ngram)] == ngram]
    return found


# -- the index ---------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), max_size=12), min_size=1, max_size=15),
       st.lists(st.integers(0, 6), min_size=1, max_size=4))
def test_count_locate_and_continuations_match_brute_force(docs, ngram):
    index = FMIndex.build(docs)
    found = _occurrences(docs, ngram)
    assert index.count(ngram) == len(found)
    assert index.documents(ngram).tolist() == sorted(set(found))
    following = index.continuations(ngram)
    expected = {t: len(_occurrences(docs, ngram + [t])) for t in range(7)}
    assert dict(zip(following.tokens.tolist(), following.counts.tolist())) == {t: c for t, c in expected.items() if c}
    for token, (lo, hi) in zip(following.tokens.tolist(), following.ranges.tolist()):
        assert (lo, hi) == index.range(ngram + [token])
    assert index.count([]) == sum(len(d) for d in docs) == index.token_count


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), max_size=40), min_size=1, max_size=30),
       st.lists(st.integers(0, 5), max_size=3), st.integers(1, 4))
def test_bounded_lookups_match_gathering_every_occurrence(docs, ngram, gather):
    """With tiny gather and fan-out sizes, binary searches and probed continuations see what a full read sees."""
    index = FMIndex.build(docs)
    tokens, suffixes = np.asarray(index.tokens), np.asarray(index.suffixes)
    suffix_rows = [tuple(tokens[s:s + len(ngram) + 1]) for s in suffixes]
    matching = [i for i, row in enumerate(suffix_rows) if row[:len(ngram)] == tuple(ngram)]
    old = fmindex._GATHER, fmindex._FANOUT
    fmindex._GATHER, fmindex._FANOUT = gather, 2
    try:
        lo, hi = index.range(ngram) if ngram else (0, len(suffixes))
        if matching:
            assert (lo, hi) == (matching[0], matching[-1] + 1)
        else:
            assert lo == hi
        assert index.count(ngram) == (len(matching) if ngram else index.token_count)
        if ngram:
            assert len(index.locate(ngram, limit=2)) == min(2, len(matching))
            following = index.continuations(ngram)
            expected: dict[int, list[int]] = {}
            for i in matching:
                if suffix_rows[i][len(ngram)] >= 0:
                    expected.setdefault(int(suffix_rows[i][len(ngram)]), []).append(i)
            assert following.tokens.tolist() == sorted(expected)
            assert following.ranges.tolist() == [[expected[t][0], expected[t][-1] + 1] for t in sorted(expected)]
            assert following.counts.tolist() == [len(expected[t]) for t in sorted(expected)]
    finally:
        fmindex._GATHER, fmindex._FANOUT = old


def test_streamed_build_writes_the_in_memory_index(tmp_path, monkeypatch):
    monkeypatch.setattr(fmindex, "_DOCUMENT_BATCH", 7)
    monkeypatch.setattr(fmindex, "_CHUNK", 64)  # chunked passes over several chunks
    rng = random.Random(5)
    docs = [[rng.randrange(70000 if i % 7 == 0 else 50) for _ in range(rng.randrange(0, 30))] for i in range(200)]
    written = write_fmindex(iter(docs), tmp_path / "ngram", meta={"tokenizer": "t"})
    built = FMIndex.build(docs)
    for name in ("tokens", "suffixes", "offsets"):
        assert np.array_equal(np.asarray(getattr(written, name)), np.asarray(getattr(built, name)))
        assert isinstance(getattr(written, name), np.memmap)  # opened without a copy
    for ngram in ([], [3], [3, 7], [69999], [1, 2, 3]):
        a, b = written.continuations(ngram), built.continuations(ngram)
        assert a.tokens.tolist() == b.tokens.tolist() and a.ranges.tolist() == b.ranges.tolist()
    # the suffix array is the sorted order of all suffixes
    tokens = np.asarray(built.tokens).tolist()
    assert np.asarray(built.suffixes).tolist() == sorted(range(len(tokens)), key=lambda i: tokens[i:])
    assert written.meta["tokenizer"] == "t"
    (tmp_path / "ngram" / "first.npy").unlink()  # indexes written before first.npy existed still open
    assert FMIndex.load(tmp_path / "ngram").continuations(()).tokens.tolist() == built.continuations(()).tokens.tolist()


def test_save_and_load_round_trip_without_pickle(tmp_path):
    docs = [[3, 1, 4, 1, 5], [9, 2, 6], [5, 3, 5]]
    FMIndex.build(docs, meta={"tokenizer": "t"}).save(tmp_path / "ngram")
    loaded = FMIndex.load(tmp_path / "ngram")
    assert loaded.meta["tokenizer"] == "t"
    assert loaded.count([5]) == 3 and loaded.documents([5]).tolist() == [0, 2]
    assert loaded.document_tokens(1).tolist() == [9, 2, 6]
    assert sorted(p.name for p in (tmp_path / "ngram").iterdir()) == [
        "first.npy", "fmindex.json", "offsets.npy", "suffixes.npy", "tokens.npy"]
    (tmp_path / "ngram" / "suffixes.npy").unlink()
    with pytest.raises(BadIndexError, match="missing suffixes.npy"):
        FMIndex.load(tmp_path / "ngram")


def test_bad_documents_are_errors():
    with pytest.raises(RegardError, match="at least one document"):
        FMIndex.build([])
    with pytest.raises(RegardError, match="token ids"):
        FMIndex.build([[1, -2]])
    with pytest.raises(RegardError, match="empty n-gram"):
        FMIndex.build([[1]]).locate([])


# -- SEAL's scoring, by hand ----------------------------------------------------------------------------


def test_intersective_score_matches_the_formulas_by_hand():
    # d0 = 1 2 3 | d1 = 2 3 9 3 | d2 = 5: N = 8 tokens; smoothing s = 1, so P(n) = (F(n) + 1) / 9.
    index = FMIndex.build([[1, 2, 3], [2, 3, 9, 3], [5]])
    generated = [((2, 3), math.log(0.5)), ((3,), math.log(0.6)), ((9,), math.log(0.5)), ((7,), math.log(0.9))]
    # w = log [P(n|q) (1 - P(n))] / [P(n) (1 - P(n|q))]:
    #   (2 3): F=2, P=1/3: log [0.5 * 2/3] / [1/3 * 0.5] = log 2
    #   (3):   F=3, P=4/9: log [0.6 * 5/9] / [4/9 * 0.4] = log 1.875
    #   (9):   F=1, P=2/9: log [0.5 * 7/9] / [2/9 * 0.5] = log 3.5
    #   (7):   not in the corpus: dropped.
    assert ngram_weight(math.log(0.5), 2, 8, smoothing=1.0) == pytest.approx(math.log(2))
    assert ngram_weight(math.log(0.1), 2, 8, smoothing=1.0) == 0.0  # log-odds below 0 are clipped
    weighted = weigh_ngrams(generated, index, alpha=2.0, smoothing=1.0)
    w9, w23, w3 = math.log(3.5) ** 2, math.log(2) ** 2, math.log(1.875) ** 2
    assert [(n.tokens, n.count) for n in weighted] == [((9,), 1), ((2, 3), 2), ((3,), 3)]
    assert [n.weight for n in weighted] == pytest.approx([w9, w23, w3])
    evidence = intersective_scores(weighted, index, beta=0.8)
    # Heaviest first: (9) takes d1's position 2; (2 3) takes d0's 1-2 and d1's 0-1; (3) overlaps (2 3) at
    # d0:2 and d1:1 but not at d1:3, so it counts in d1, where (2 3) already covered token 3:
    # cover = 1 - 0.8 + 0.8 * 0/1 = 0.2.
    assert sorted(evidence) == [0, 1]
    assert [n.tokens for n in evidence[1].ngrams] == [(9,), (2, 3), (3,)]
    assert evidence[0].score == pytest.approx(w23)
    assert evidence[1].score == pytest.approx(w9 + w23 + 0.2 * w3)
    assert cover((2, 3), {3}, beta=0.8) == pytest.approx(0.6)


def test_frequent_ngrams_are_left_out_above_max_occurrences():
    index = FMIndex.build([[1, 2], [1, 3], [4]])
    weighted = weigh_ngrams([((1,), math.log(0.9))], index, smoothing=1.0)
    assert sorted(intersective_scores(weighted, index)) == [0, 1]
    assert intersective_scores(weighted, index, max_occurrences=1) == {}


# -- constrained decoding with a tiny random LM ---------------------------------------------------------


@lru_cache(maxsize=1)
def _peaked_llm():
    """A tiny random Llama whose output layer favours the tokens of WORDS (so n-gram weights are positive)."""
    llm = tiny_llm(seed=1)
    ids = sorted({t for w in WORDS for t in llm.tokenizer(" " + w, add_special_tokens=False)["input_ids"]})
    head = llm.model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight * 20)
        biased.bias.fill_(-30.0)
        biased.bias[ids] = 0.0
    llm.model.lm_head = biased
    return llm


def _corpus_tokens(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer([document_text("", t) for t in texts], add_special_tokens=False)["input_ids"]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8), min_size=1, max_size=8),
       st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), st.integers(1, 4), st.integers(1, 5))
def test_decoded_ngrams_occur_in_the_corpus_and_returned_documents_hold_one(texts, query, beam_size, max_length):
    llm = _peaked_llm()
    docs = _corpus_tokens(llm.tokenizer, [" ".join(words) for words in texts])
    index = FMIndex.build(docs)
    decoder = ConstrainedDecoder(llm, index, beam_size=beam_size, max_length=max_length)
    generated = decoder.generate(" ".join(query))
    assert generated, "the corpus is not empty, so the decoder keeps at least one n-gram"
    starts = word_start_tokens(llm.tokenizer)
    for ngram in generated:
        assert 1 <= len(ngram.tokens) <= max_length and ngram.logprob <= 0
        assert _occurrences(docs, ngram.tokens), f"{ngram.tokens} is not in the corpus"
        assert starts[ngram.tokens[0]]
    weighted = weigh_ngrams([(g.tokens, g.logprob) for g in generated], index, smoothing=0.1)
    evidence = intersective_scores(weighted, index)
    for document, found in evidence.items():
        assert found.score > 0
        assert any(_occurrences([docs[document]], n.tokens) for n in found.ngrams)
        assert {n.tokens for n in found.ngrams} <= {g.tokens for g in generated}


def test_beams_extend_the_best_ngrams_under_the_lm():
    llm = _peaked_llm()
    docs = _corpus_tokens(llm.tokenizer, ["protein cell virus", "gene mouse brain", "virus vaccine"])
    index = FMIndex.build(docs)
    generated = ConstrainedDecoder(llm, index, beam_size=3, max_length=3, first_tokens="any").generate("virus")
    lengths = [len(g.tokens) for g in generated]
    assert lengths == sorted(lengths) and max(lengths) <= 3
    first_step = [g for g in generated if len(g.tokens) == 1]
    assert len(first_step) == 3
    # The kept first tokens are the three most probable corpus tokens after the prompt.
    logits = llm.next_token_logits([ConstrainedDecoder(llm, index).prompt_ids("virus")])[0]
    corpus_tokens = index.continuations(()).tokens
    logprobs = torch.log_softmax(logits, -1).numpy()[corpus_tokens]
    best = set(corpus_tokens[np.argsort(-logprobs)[:3]].tolist())
    assert {g.tokens[0] for g in first_step} == best


def _same_generation(cached, recomputed):
    assert [g.tokens for g in cached] == [g.tokens for g in recomputed]
    assert [g.span for g in cached] == [g.span for g in recomputed]
    assert [g.logprob for g in cached] == pytest.approx([g.logprob for g in recomputed], abs=1e-4)


@pytest.mark.parametrize("architecture", ["llama", "gemma3"])
def test_kv_cache_decoding_keeps_the_ngrams_and_scores_of_full_recomputation(architecture):
    # Gemma 3's sliding window (8 tokens) is shorter than prompt + n-gram here, so the cache's window is exercised.
    llm = _peaked_llm() if architecture == "llama" else tiny_llm("gemma3", seed=4)
    texts = [" ".join(random.Random(seed).choices(WORDS, k=15)) for seed in range(12)]
    index = FMIndex.build(_corpus_tokens(llm.tokenizer, texts))
    for query in ["protein vaccine in the mouse brain", "tumor blood"]:
        options = dict(beam_size=5, max_length=6, first_tokens="any")
        cached = ConstrainedDecoder(llm, index, **options).generate(query)
        recomputed = ConstrainedDecoder(llm, index, kv_cache=False, **options).generate(query)
        assert len(cached) > 10
        _same_generation(cached, recomputed)


def test_decoder_rejects_bad_settings():
    index = FMIndex.build([[1, 2]])
    with pytest.raises(RegardError, match="beam_size"):
        ConstrainedDecoder(_peaked_llm(), index, beam_size=0)
    with pytest.raises(RegardError, match="first_tokens"):
        ConstrainedDecoder(_peaked_llm(), index, first_tokens="some")
    with pytest.raises(RegardError, match="query"):
        ConstrainedDecoder(_peaked_llm(), index, prompt="no placeholder")


# -- the index kind and the stage -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ngram_index(tmp_path_factory):
    random.seed(3)
    docs = [Document(id=f"d{i}", title=random.choice(WORDS).title(), text=" ".join(random.choices(WORDS, k=12)))
            for i in range(30)]
    folder = tmp_path_factory.mktemp("gen") / "ngram"
    return Index.build(docs, folder, kind="ngram", model=resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)


def test_ngram_index_build_records_sizes(ngram_index):
    m = ngram_index.manifest
    assert m.kind == "ngram" and m.backend == "suffix-array" and m.document_count == 30
    p = m.parameters
    assert p["index_bytes"] > 0 and p["corpus_bytes"] > 0 and p["token_count"] > 30 * 12
    assert p["index_to_corpus_ratio"] == pytest.approx(p["index_bytes"] / p["corpus_bytes"], abs=1e-3)


def test_generative_stage_ranks_documents_with_evidence_and_fuses(ngram_index, tmp_path):
    stage = ngram_index.retriever(k=5, llm=_peaked_llm(), beam_size=4, max_length=3, smoothing=0.1)
    assert isinstance(stage, Generative)
    run = stage([Query("q1", "protein vaccine"), Query("q2", "brain tumor")])
    assert set(run) == {"q1", "q2"} and all(0 < len(run[q]) <= 5 for q in run)
    scores = [s for _, s in run["q1"]]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    # Rescoring an incoming run keeps its documents.
    rescored = stage([Query("q1", "protein vaccine")], run)
    assert [d for d, _ in rescored["q1"]] == [d for d, _ in run["q1"]]
    # Fusion with BM25 (bm25s: no Java) over the same documents.
    bm25 = Index.build(list(ngram_index.docstore), tmp_path / "bm25", kind="bm25", backend="bm25s").retriever(k=5)
    fused = (bm25 | stage)([Query("q1", "protein vaccine")])
    assert len(fused["q1"]) >= len(run["q1"])


def test_generative_stage_errors(ngram_index, tmp_path):
    other = tiny_llm()
    other.tokenizer = tiny_tokenizer()
    other.tokenizer.add_tokens(["zzzextra"])
    with pytest.raises(RegardError, match="different vocabulary"):
        Generative(ngram_index, other)
    bm25 = Index.build([Document("a", "protein cells")], tmp_path / "bm25", kind="bm25", backend="bm25s")
    with pytest.raises(RegardError, match="needs an ngram index"):
        Generative(bm25, _peaked_llm())
    with pytest.raises(RegardError, match="beta"):
        Generative(ngram_index, _peaked_llm(), beta=2.0)


def test_generative_config_stage_checks_parameters():
    from regard.experiments.stages import Params, Where, registration

    reg = registration("generative")
    assert reg.shorthand == "model"
    with pytest.raises(RegardError, match="first_tokens"):
        reg.factory(Params({"first_tokens": "all"}, Where("p.yaml", 3, "pipeline[0]")), None)
    with pytest.raises(RegardError, match="unknown parameter 'beams'"):
        reg.factory(Params({"beams": 3}, Where("p.yaml", 3, "pipeline[0]")), None)


# -- training -------------------------------------------------------------------------------------------


def test_training_targets_are_corpus_ngrams_and_the_loss_falls(tiny_mirror, tmp_path):
    from regard.datasets import load_dataset
    from regard.lm.causal import CausalLM
    from regard.training.generative import GenerativeTrainingConfig, generative_examples, train_generative

    llm = tiny_llm(seed=2)
    base = tmp_path / "base"
    llm.model.save_pretrained(base)
    llm.tokenizer.save_pretrained(base)
    data = load_dataset("scifact")
    docs = list(data.corpus)
    index = FMIndex.build(llm.tokenizer([document_text(d.title, d.text) for d in docs], add_special_tokens=False)["input_ids"])
    examples = generative_examples(llm, data.queries("train"), data.qrels("train"), {d.id: d for d in docs},
                                   spans_per_document=2, span_tokens=3)
    assert len(examples) == 20 * 3
    assert all(index.count(e.target) > 0 for e in examples)
    config = GenerativeTrainingConfig(base=str(base), epochs=3, learning_rate=3e-3, batch_size=16,
                                      spans_per_document=2, span_tokens=3, device="cpu")
    out = train_generative(config, tmp_path / "trained")
    record = json.loads((out / "regard_training.json").read_text())
    assert record["examples"] == 60 and record["epoch_losses"][-1] < record["epoch_losses"][0]
    trained = CausalLM.load(str(out), device="cpu", precision="fp32")
    assert trained.tokenizer.get_vocab() == llm.tokenizer.get_vocab()
    with pytest.raises(RegardError, match="test split"):
        train_generative(GenerativeTrainingConfig(split="test"), tmp_path / "never")


def test_queries_without_search_terms_get_empty_rankings(ngram_index, caplog):
    stage = ngram_index.retriever(k=5, llm=_peaked_llm(), beam_size=4, max_length=3, smoothing=0.1)
    assert_blank_queries_get_empty_rankings(stage, "protein vaccine", caplog)
