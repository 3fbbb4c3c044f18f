"""The streamed bm25s build gives bm25s's own index: same score matrix, same rankings, loadable by bm25s."""

from __future__ import annotations

import random

import numpy as np
import pytest

from regard.data.types import Document, Query
from regard.indexing import bm25s_build
from regard.indexing.bm25s_backend import BM25S_DIR, Bm25sBM25, build_bm25s_index

bm25s = pytest.importorskip("bm25s")
Stemmer = pytest.importorskip("Stemmer")

_WORDS = ("protein proteins folding folded folds cell cells cellular running runs ran runner gene genes genetic "
          "mutation mutations mutated cancer cancers tumour tumours p53 DNA RNA 2019 x y café naïve Über studies "
          "studied studying the of and a in is are was to it that this with for on not no").split()


def _corpus(count: int, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(0, 40))]
        text = " ".join(words) + rng.choice(["", ".", ", and.", " (see Fig. 2)!"])
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 4))) if i % 3 else ""
        docs.append(Document(f"d{i}", text, title))
    docs.append(Document("stop", "the of and a"))  # stopwords only: no terms, length 0
    return docs


def _reference(docs: list[Document], k1: float, b: float):
    retriever = bm25s.BM25(method="lucene", k1=k1, b=b)
    tokens = bm25s.tokenize([d.contents for d in docs], lower=True, stopwords="en",
                            stemmer=Stemmer.Stemmer("english"), return_ids=False, show_progress=False)
    retriever.index(tokens, show_progress=False)
    return retriever


def _columns(scores: dict, vocab: dict) -> dict[str, dict[int, float]]:
    data, indices, indptr = (np.asarray(scores[n]) for n in ("data", "indices", "indptr"))
    return {term: dict(zip(indices[indptr[i]:indptr[i + 1]].tolist(), data[indptr[i]:indptr[i + 1]].tolist()))
            for term, i in vocab.items() if term}


@pytest.mark.parametrize("k1,b", [(0.9, 0.4), (1.2, 0.75)])
def test_streamed_index_equals_bm25s_index(tmp_path, monkeypatch, k1, b):
    monkeypatch.setattr(bm25s_build, "_DOC_BATCH", 17)  # many batches and score blocks
    monkeypatch.setattr(bm25s_build, "_SCORE_BLOCK", 23)
    docs = _corpus(300)
    assert build_bm25s_index(iter(docs), tmp_path, k1=k1, b=b) == len(docs)
    reference = _reference(docs, k1, b)
    loaded = bm25s.BM25.load(str(tmp_path / BM25S_DIR), mmap=True)
    assert loaded.scores["num_docs"] == len(docs)
    assert (loaded.k1, loaded.b, loaded.method) == (k1, b, "lucene")
    assert set(loaded.vocab_dict) == set(reference.vocab_dict)
    ours, theirs = _columns(loaded.scores, loaded.vocab_dict), _columns(reference.scores, reference.vocab_dict)
    assert ours == theirs  # bit-identical float32 scores, documents in the same order per term
    for name in ("data", "indices", "indptr"):
        assert np.asarray(loaded.scores[name]).dtype == np.asarray(reference.scores[name]).dtype


def test_streamed_index_ranks_queries_as_bm25s(tmp_path):
    docs = _corpus(400, seed=11)
    build_bm25s_index(iter(docs), tmp_path)
    reference = _reference(docs, 0.9, 0.4)
    searcher = Bm25sBM25(tmp_path, [d.id for d in docs])
    queries = [Query(f"q{i}", text) for i, text in enumerate(
        ["protein folding", "running cells", "p53 mutations in cancer", "Über café", "genetic studies 2019", "the"])]
    run = searcher.search(queries, k=20)
    position = {d.id: i for i, d in enumerate(docs)}
    for query in queries:
        tokens = bm25s.tokenize([query.text], stopwords="en", stemmer=Stemmer.Stemmer("english"),
                                return_ids=False, show_progress=False)[0]
        tokens = [t for t in tokens if t in reference.vocab_dict]
        ranked = run[query.id]
        if not tokens:
            assert ranked == []
            continue
        expected = reference.get_scores(tokens)
        for docid, score in ranked:
            assert score == pytest.approx(float(expected[position[docid]]), abs=1e-6)
        best = sorted(expected[expected > 0], reverse=True)[:20]
        assert [s for _, s in ranked] == pytest.approx([float(s) for s in best], abs=1e-6)


def test_tokenizer_matches_bm25s_tokenize():
    texts = [d.contents for d in _corpus(200, seed=3)]
    tokenizer = bm25s_build.StemmingTokenizer(Stemmer.Stemmer("english"), bm25s.stopwords.STOPWORDS_EN)
    expected = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,
                              show_progress=False)
    for text, tokens in zip(texts, expected):
        ids = tokenizer.ids(text)
        names = {i: t for t, i in tokenizer.vocabulary.items()}
        assert [names[i] for i in ids] == tokens
