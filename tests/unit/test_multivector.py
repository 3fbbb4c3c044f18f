"""Token encoder (plain and ColBERT layout), token store, MaxSim, and the multivector/muvera indexes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from blank_queries import assert_blank_queries_get_empty_rankings
from regard import Index
from regard.data.types import Document, Query, Run
from regard.encoders.multivector import RaggedVectors, TokenEncoder
from regard.errors import BadIndexError, RegardError
from regard.models import resolve_model
from regard.retrieval.maxsim import exhaustive_maxsim, maxsim

DOCS = [Document(f"d{i}", text, f"title {i}") for i, text in enumerate([
    "p53 is a tumour suppressor mutated in many cancers.",
    "the mitochondria is the powerhouse of the cell",
    "vaccines train the immune system against viruses, bacteria and more",
    "insulin regulates blood glucose levels",
    "dna repair enzymes fix damaged strands; some cancers lack them",
    "the heart pumps blood through arteries and veins",
    "antibiotics kill bacteria but not viruses",
    "neurons communicate through synapses",
])]
QUERIES = [Query("q1", "p53 mutations in cancer"), Query("q2", "blood sugar"), Query("q3", "bacteria and viruses")]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def colbert_checkpoint(tmp_path_factory):
    """A random-weight checkpoint in the colbert-ir/colbertv2.0 layout: ``bert.*`` + ``linear.weight``."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, architectures=["HF_ColBERT"])
    bert, linear = BertModel(config, add_pooling_layer=False).eval(), torch.nn.Linear(32, 16, bias=False)
    folder = tmp_path_factory.mktemp("tiny-colbert")
    state = {f"bert.{k}": v for k, v in bert.state_dict().items()} | {"linear.weight": linear.weight.detach()}
    torch.save(state, folder / "pytorch_model.bin")
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "artifact.metadata").write_text(json.dumps({
        "query_token_id": "[unused0]", "doc_token_id": "[unused1]", "query_token": "[Q]", "doc_token": "[D]",
        "query_maxlen": 12, "doc_maxlen": 24, "dim": 16, "similarity": "cosine", "mask_punctuation": True,
        "attend_to_mask_tokens": False,
    }))
    return folder, bert, linear


def colbert_encoder(folder) -> TokenEncoder:
    return TokenEncoder(str(folder), precision="fp32", device="cpu", batch_size=3)


def test_colbert_layout_loads_its_weights_markers_and_settings(colbert_checkpoint):
    folder, bert, linear = colbert_checkpoint
    encoder = colbert_encoder(folder)
    assert encoder.colbert and encoder.dimension == 16
    assert (encoder.document_max_length, encoder.query_max_length) == (24, 12)
    tokenizer = encoder.tokenizer
    text = "insulin, glucose and blood"
    docs = encoder.encode_documents([text])
    # ColBERT input: [CLS] [unused1] tokens [SEP]; the comma is dropped from the output (mask_punctuation).
    ids = [tokenizer.cls_token_id, tokenizer.convert_tokens_to_ids("[unused1]")]
    ids += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]
    with torch.no_grad():
        hidden = bert(input_ids=torch.tensor([ids])).last_hidden_state[0]
        expected = torch.nn.functional.normalize(linear(hidden), dim=-1)
    keep = [i for i, t in enumerate(ids) if t != tokenizer.convert_tokens_to_ids(",")]
    np.testing.assert_allclose(docs[0], expected[keep].numpy(), atol=1e-5)


def test_colbert_queries_are_augmented_with_masks_to_query_maxlen(colbert_checkpoint):
    folder, bert, linear = colbert_checkpoint
    encoder = colbert_encoder(folder)
    queries = encoder.encode_queries(["blood sugar", "a much longer query about many different things at once"])
    assert queries.lengths.tolist() == [12, 12]  # padded with [MASK] (or truncated) to query_maxlen
    tokenizer = encoder.tokenizer
    ids = [tokenizer.cls_token_id, tokenizer.convert_tokens_to_ids("[unused0]")]
    ids += tokenizer("blood sugar", add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]
    attention = [1] * len(ids) + [0] * (12 - len(ids))  # mask tokens are not attended to
    ids += [tokenizer.mask_token_id] * (12 - len(ids))
    with torch.no_grad():
        hidden = bert(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([attention])).last_hidden_state[0]
        expected = torch.nn.functional.normalize(linear(hidden), dim=-1)
    np.testing.assert_allclose(queries[0], expected.numpy(), atol=1e-5)
    assert np.allclose(np.linalg.norm(queries.vectors, axis=1), 1, atol=1e-5)


def test_colbert_checkpoint_without_projection_is_a_clear_error(colbert_checkpoint, tmp_path):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(colbert_checkpoint[0], folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    del state["linear.weight"]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(RegardError, match="linear.weight"):
        colbert_encoder(folder)


def test_plain_model_gives_one_vector_per_token_independent_of_batching(tiny_checkpoint):
    encoder = TokenEncoder(str(tiny_checkpoint), precision="fp32", device="cpu", batch_size=2)
    assert not encoder.colbert and encoder.dimension == 32
    texts = [d.contents for d in DOCS]
    together = encoder.encode_documents(texts)
    assert together.lengths.tolist() == [len(encoder.tokenizer(t)["input_ids"]) for t in texts]
    alone = encoder.encode_documents([texts[3]])
    np.testing.assert_allclose(together[3], alone[0], atol=1e-5)  # padding in a batch changes nothing


def random_ragged(rng, count, sizes, dim=16) -> RaggedVectors:
    groups = [rng.standard_normal((n, dim)).astype(np.float32) for n in rng.integers(sizes[0], sizes[1], size=count)]
    return RaggedVectors.from_list([g / np.linalg.norm(g, axis=1, keepdims=True) for g in groups], dim)


def test_exhaustive_maxsim_equals_brute_force_across_chunks_and_batches():
    rng = np.random.default_rng(0)
    docs, queries = random_ragged(rng, 57, (1, 30)), random_ragged(rng, 9, (2, 8))
    brute = np.array([[float((queries[i] @ docs[j].T).max(axis=1).sum()) for j in range(57)] for i in range(9)])
    scores, positions = exhaustive_maxsim(queries, docs, k=10, chunk_tokens=40, query_batch_tokens=10)
    for i in range(9):
        np.testing.assert_array_equal(positions[i], np.argsort(-brute[i], kind="stable")[:10])
        np.testing.assert_allclose(scores[i], brute[i][positions[i]], atol=1e-5)
        np.testing.assert_allclose(maxsim(queries[i], docs), brute[i], atol=1e-5)
    assert exhaustive_maxsim(queries, docs, k=100)[1].shape == (9, 57)
    # float16 arithmetic (products rounded to float16) stays within a few thousandths.
    half_scores, _ = exhaustive_maxsim(queries, docs, k=57, precision="fp16")
    np.testing.assert_allclose(np.sort(half_scores, axis=1), np.sort(brute, axis=1), atol=5e-3)
    np.testing.assert_allclose(maxsim(queries[0], docs, "fp16"), brute[0], atol=5e-3)


def test_maxsim_of_chosen_documents_in_blocks_equals_brute_force():
    from regard.indexing.token_store import quantise_int8

    rng = np.random.default_rng(2)
    docs, query = random_ragged(rng, 40, (1, 30)), random_ragged(rng, 1, (5, 6))[0]
    positions = np.array([7, 3, 39, 3, 0, 21])  # any order, repeats allowed
    brute = np.array([float((query @ docs[p].T).max(axis=1).sum()) for p in positions])
    for block in (1, 8, 64, 10_000):  # a block holds whole documents; a longer document gets one to itself
        np.testing.assert_allclose(maxsim(query, docs, positions=positions, block_tokens=block), brute, atol=1e-5)
    np.testing.assert_allclose(maxsim(query, docs, "fp16", positions, block_tokens=8), brute, atol=5e-3)
    assert maxsim(query, docs, positions=np.zeros(0, np.int64)).shape == (0,)
    # int8 codes with scales: the scores of the dequantised vectors, without dequantising them.
    codes, scales = quantise_int8(docs.vectors)
    quantised = RaggedVectors(codes, docs.offsets, scales)
    real = RaggedVectors(codes * scales[:, None], docs.offsets)
    expected = np.array([float((query @ real[p].T).max(axis=1).sum()) for p in positions])
    np.testing.assert_allclose(maxsim(query, quantised, positions=positions, block_tokens=8), expected, atol=1e-5)
    np.testing.assert_allclose(exhaustive_maxsim(RaggedVectors(query, np.array([0, len(query)])), quantised, k=40,
                                                 chunk_tokens=50)[0][0],
                               np.sort(maxsim(query, real))[::-1], atol=1e-5)
    np.testing.assert_allclose(expected, brute, atol=0.02)  # per-token int8 stays close to float32


def build(tmp_path, kind, model, **params) -> Index:
    return Index.build(DOCS, tmp_path / kind, kind=kind, model=str(model), precision="fp32", device="cpu", **params)


def test_token_store_is_memory_mapped_float16_with_offsets(tmp_path, tiny_checkpoint):
    from regard.indexing.token_store import TokenStore

    index = build(tmp_path, "multivector", tiny_checkpoint)
    store = TokenStore(index.folder)
    assert isinstance(store.vectors, np.memmap) and store.vectors.dtype == np.float16
    encoder = TokenEncoder(str(tiny_checkpoint), precision="fp32", device="cpu")
    expected = encoder.encode_documents([d.contents for d in DOCS])
    np.testing.assert_array_equal(store.offsets, expected.offsets)
    np.testing.assert_allclose(store.vectors, expected.vectors, atol=2e-3)  # float16 storage
    params = index.manifest.parameters
    assert params["token_count"] == len(store.vectors) and params["token_encoder"]["precision"] == "fp32"


def test_token_vectors_are_cached_and_shards_resume(tmp_path, tiny_checkpoint, monkeypatch):
    import regard.indexing.token_store as token_store
    from regard.indexing.token_store import TokenStore, cached_token_store

    monkeypatch.setattr(token_store, "SHARD_SIZE", 3)
    encoder = TokenEncoder(str(tiny_checkpoint), precision="fp32", device="cpu")
    real, calls = encoder.encode_documents, []

    def failing_after_two(texts, progress=False):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(texts))
        return real(texts)

    from regard.indexing.docstore import DocStore, write_docstore

    write_docstore(DOCS, tmp_path)
    docs = DocStore(tmp_path)
    monkeypatch.setattr(encoder, "encode_documents", failing_after_two)
    with pytest.raises(KeyboardInterrupt):
        cached_token_store(encoder, docs, "fingerprint")
    calls.append("resumed")
    monkeypatch.setattr(encoder, "encode_documents",
                        lambda texts, progress=False: calls.append(len(texts)) or real(texts))
    folder = cached_token_store(encoder, docs, "fingerprint")
    assert calls == [3, 3, "resumed", 2]  # only the third shard is encoded after the interruption
    assert len(TokenStore(folder)) == len(DOCS) and not list(folder.glob("shard-*"))
    cached_token_store(encoder, docs, "fingerprint")
    assert calls[-1] == 2  # the finished store is reused whole


def test_muvera_with_every_document_as_candidate_equals_exhaustive_maxsim(tmp_path, tiny_checkpoint):
    exhaustive = build(tmp_path, "multivector", tiny_checkpoint).retriever(k=5)
    muvera_index = build(tmp_path, "muvera", tiny_checkpoint, k_sim=2, d_proj=8, r_reps=3)
    full = muvera_index.retriever(k=5, candidates=len(DOCS))(QUERIES)
    reference = exhaustive(QUERIES)
    for q in QUERIES:
        assert full.docids(q.id) == reference.docids(q.id)
        assert [s for _, s in full[q.id]] == pytest.approx([s for _, s in reference[q.id]], abs=2e-3)
    # Fewer candidates than k: the top 3 by FDE, reranked by MaxSim, come first.
    stage = muvera_index.retriever(k=3, candidates=3)
    run = stage(QUERIES)
    _, fde_positions = stage.search_fde(stage.encode_queries(QUERIES), 3)
    for i, q in enumerate(QUERIES):
        assert sorted(run.docids(q.id)) == sorted(f"d{p}" for p in fde_positions[i])


def test_muvera_manifest_records_the_fde_and_queries_reuse_it(tmp_path, tiny_checkpoint):
    from regard.encoders.muvera import FDEConfig, FDEEncoder
    from regard.indexing.token_store import TokenStore

    index = build(tmp_path, "muvera", tiny_checkpoint, k_sim=3, d_proj=4, r_reps=2, seed=7, final_dimension=40)
    fde = index.manifest.parameters["fde"]
    assert fde == dict(dimension=32, k_sim=3, d_proj=4, r_reps=2, final_dimension=40, seed=7, fill_empty=True)
    stage = Index.open(index.folder).retriever(k=4, rerank=False)
    encoder = FDEEncoder(FDEConfig(**fde))
    documents = encoder.encode_documents(TokenStore(index.folder))
    queries = encoder.encode_queries(stage.encode_queries(QUERIES))
    run = stage(QUERIES)
    for i, q in enumerate(QUERIES):
        expected = documents @ queries[i]
        assert [s for _, s in run[q.id]] == pytest.approx(sorted(expected, reverse=True)[:4], abs=1e-4)


def test_incoming_run_is_rescored_by_maxsim(tmp_path, tiny_checkpoint):
    index = build(tmp_path, "muvera", tiny_checkpoint, k_sim=2, d_proj=8, r_reps=2)
    stage = index.retriever()
    incoming = Run({"q1": [("d0", 1.0), ("d4", 0.5), ("missing", 0.1)], "q2": [("d3", 1.0)], "q3": []})
    out = stage(QUERIES, incoming)
    assert sorted(out.docids("q1")) == ["d0", "d4"] and out.docids("q2") == ["d3"] and out.docids("q3") == []
    vectors = stage.encode_queries(QUERIES[:1])[0]
    expected = maxsim(vectors, stage.store.groups(np.array([0, 4])), stage.precision)
    assert dict(out["q1"]) == pytest.approx({"d0": expected[0], "d4": expected[1]}, abs=2e-3)


def test_cli_builds_a_muvera_index(tmp_path, tiny_checkpoint):
    from regard.cli.index_cmd import command

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    result = CliRunner().invoke(command, [str(corpus), "--kind", "muvera", "--out", str(tmp_path / "idx"), "--model",
                                          str(tiny_checkpoint), "--precision", "fp32", "--device", "cpu",
                                          "--k-sim", "2", "--d-proj", "0", "--r-reps", "2"])
    assert result.exit_code == 0, result.output
    index = Index.open(tmp_path / "idx")
    assert index.manifest.kind == "muvera" and index.manifest.parameters["fde"]["d_proj"] is None
    assert index.retriever(k=3).search("blood glucose", k=3)


def test_bad_input_is_a_clear_error(tmp_path, tiny_checkpoint):
    with pytest.raises(RegardError, match="k_sim"):
        build(tmp_path, "muvera", tiny_checkpoint, k_sim=40)
    assert not (tmp_path / "muvera").exists()  # the failed build left nothing behind
    index = build(tmp_path, "multivector", tiny_checkpoint)
    with pytest.raises(RegardError, match="candidates"):
        build(tmp_path / "x", "muvera", tiny_checkpoint, k_sim=1, d_proj=4, r_reps=1).retriever(candidates=0)
    (index.folder / "tokens.npy").unlink()
    with pytest.raises(BadIndexError, match="token store"):
        Index.open(index.folder).retriever()


@pytest.mark.parametrize("kind", ["multivector", "muvera"])
def test_queries_without_search_terms_get_empty_rankings(tmp_path, tiny_checkpoint, kind, caplog):
    extra = dict(k_sim=2, d_proj=8, r_reps=2) if kind == "muvera" else {}
    stage = build(tmp_path, kind, tiny_checkpoint, **extra).retriever(k=3)
    assert_blank_queries_get_empty_rankings(stage, "blood glucose", caplog)


def test_muvera_returns_k_documents_when_k_exceeds_the_candidates(tmp_path, tiny_checkpoint):
    index = build(tmp_path, "muvera", tiny_checkpoint, k_sim=2, d_proj=8, r_reps=3)
    stage = index.retriever(k=7, candidates=3)
    run = stage(QUERIES)
    fde_scores, fde_positions = stage.search_fde(stage.encode_queries(QUERIES), 7)
    for i, q in enumerate(QUERIES):
        ranking = run[q.id]
        assert len(ranking) == 7
        head, tail = ranking[:3], ranking[3:]
        assert sorted(d for d, _ in head) == sorted(f"d{p}" for p in fde_positions[i][:3])  # reranked by MaxSim
        assert min(s for _, s in head) > max(s for _, s in tail)
        # Below the candidates: the next documents in FDE order, FDE gaps kept.
        assert [d for d, _ in tail] == [f"d{p}" for p in fde_positions[i][3:7]]
        gaps = np.diff([s for _, s in tail])
        np.testing.assert_allclose(gaps, np.diff(fde_scores[i][3:7]), atol=1e-5)


def test_muvera_fdes_can_be_product_quantised(tmp_path, tiny_checkpoint):
    exact = build(tmp_path, "muvera", tiny_checkpoint, k_sim=2, d_proj=8, r_reps=3)
    compressed = Index.build(DOCS, tmp_path / "pq", kind="muvera", model=str(tiny_checkpoint), precision="fp32",
                             device="cpu", k_sim=2, d_proj=8, r_reps=3, fde_pq=True)
    faiss_params = compressed.manifest.parameters["faiss"]
    assert faiss_params["faiss_type"] == "pq" and compressed.manifest.parameters["fde_pq"] is True
    assert compressed.manifest.parameters["fde_bytes"] * 8 <= exact.manifest.parameters["fde_bytes"]
    # With every document a candidate, the exact MaxSim rerank makes both rankings identical.
    full = {name: index.retriever(k=5, candidates=len(DOCS))(QUERIES) for name, index in
            (("exact", exact), ("pq", compressed))}
    assert all(full["exact"].docids(q.id) == full["pq"].docids(q.id) for q in QUERIES)
    with pytest.raises(RegardError, match="fde_pq"):
        build(tmp_path / "x", "muvera", tiny_checkpoint, fde_pq=True, faiss_type="hnsw")


def test_document_fdes_are_computed_per_slice_as_faiss_reads_them(tmp_path, tiny_checkpoint):
    from regard.encoders.muvera import FDEConfig, FDEEncoder
    from regard.indexing.multivector import DocumentFDEs
    from regard.indexing.token_store import TokenStore

    index = build(tmp_path, "multivector", tiny_checkpoint)
    store = TokenStore(index.folder)
    encoder = FDEEncoder(FDEConfig(dimension=store.dimension, k_sim=2, d_proj=8, r_reps=2))
    lazy = DocumentFDEs(store, encoder)
    whole = encoder.encode_documents(store)
    assert lazy.shape == whole.shape
    np.testing.assert_allclose(np.concatenate([lazy[0:3], lazy[3:len(DOCS)]]), whole, atol=1e-6)
    np.testing.assert_allclose(lazy[np.array([4, 1])], whole[[4, 1]], atol=1e-6)


def test_int8_quantisation_is_per_token_and_bounded():
    from regard.indexing.token_store import quantise_int8

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    vectors[3] = 0  # an all-zero row gets scale 0, not a division by zero
    codes, scales = quantise_int8(vectors)
    assert codes.dtype == np.int8 and scales.dtype == np.float32 and scales[3] == 0
    assert np.abs(codes).max() == 127 and np.all(np.abs(codes).max(axis=1)[np.arange(50) != 3] == 127)
    # Rounding to the nearest step: each coordinate within half a step of its token's scale.
    assert np.all(np.abs(codes * scales[:, None] - vectors) <= scales[:, None] / 2 + 1e-7)


def test_int8_store_maxsim_is_close_to_float16(tmp_path, tiny_checkpoint):
    from regard.indexing.token_store import SCALES_FILE, TokenStore

    half = build(tmp_path, "multivector", tiny_checkpoint)
    quantised = Index.build(DOCS, tmp_path / "int8", kind="multivector", model=str(tiny_checkpoint),
                            precision="fp32", device="cpu", token_store="int8")
    store, reference = TokenStore(quantised.folder), TokenStore(half.folder)
    assert store.format == "int8" and reference.format == "float16"
    assert isinstance(store.vectors, np.memmap) and store.vectors.dtype == np.int8
    assert (quantised.folder / SCALES_FILE).is_file() and not (half.folder / SCALES_FILE).exists()
    params = quantised.manifest.parameters
    assert params["store_dtype"] == "int8" and half.manifest.parameters["store_dtype"] == "float16"
    # 1 byte a dimension plus a 4-byte scale per token, against 2 bytes a dimension.
    tokens, dim = len(store.vectors), store.dimension
    assert params["store_bytes"] == tokens * (dim + 4) + store.offsets.nbytes
    np.testing.assert_array_equal(store.offsets, reference.offsets)
    # Dequantised vectors within half a quantisation step (max|x| / 254) of the float16 ones.
    real = store.groups(np.arange(len(DOCS))).vectors
    step = np.abs(reference.vectors.astype(np.float32)).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(real - reference.vectors.astype(np.float32)) <= step / 2 + 1e-3)
    # MaxSim scores: exhaustive and reranking paths agree with float16 to 0.02 (queries of about
    # ten unit-length tokens: under 2e-3 a token similarity), and rank the documents the same here.
    exact = half.retriever(k=len(DOCS))(QUERIES)
    for stage in (quantised.retriever(k=len(DOCS)),
                  Index.open(quantised.folder).retriever(k=len(DOCS))):
        run = stage(QUERIES)
        for q in QUERIES:
            expected = dict(exact[q.id])
            assert dict(run[q.id]) == pytest.approx(expected, abs=0.02)
            assert run.docids(q.id)[:3] == exact.docids(q.id)[:3]
    vectors = quantised.retriever().encode_queries(QUERIES)
    np.testing.assert_allclose(maxsim(vectors[0], store.gather(np.array([5, 0, 2]))),
                               maxsim(vectors[0], reference.groups(np.array([5, 0, 2]))), atol=0.02)


def test_muvera_over_an_int8_store_reranks_with_it(tmp_path, tiny_checkpoint):
    exhaustive = Index.build(DOCS, tmp_path / "exh", kind="multivector", model=str(tiny_checkpoint),
                             precision="fp32", device="cpu", token_store="int8").retriever(k=5)
    index = build(tmp_path, "muvera", tiny_checkpoint, k_sim=2, d_proj=8, r_reps=3, token_store="int8",
                  fde_pq=False)
    assert index.manifest.parameters["store_dtype"] == "int8"
    # The FDEs come from the float16 vectors: the same candidates as over a float16 store.
    half = build(tmp_path / "half", "muvera", tiny_checkpoint, k_sim=2, d_proj=8, r_reps=3)
    fde_runs = [i.retriever(k=len(DOCS), rerank=False)(QUERIES) for i in (index, half)]
    assert all(fde_runs[0][q.id] == fde_runs[1][q.id] for q in QUERIES)
    full, reference = index.retriever(k=5, candidates=len(DOCS))(QUERIES), exhaustive(QUERIES)
    for q in QUERIES:  # every document a candidate: the same scores as exhaustive MaxSim over int8
        assert full.docids(q.id) == reference.docids(q.id)
        assert [s for _, s in full[q.id]] == pytest.approx([s for _, s in reference[q.id]], abs=1e-4)


def test_float16_store_without_a_format_in_the_manifest_still_opens(tmp_path, tiny_checkpoint):
    """An index built before int8 stores: no token_store parameter, a float16 tokens.npy, no scales file."""
    from regard.indexing.manifest import Manifest

    index = build(tmp_path, "multivector", tiny_checkpoint)
    manifest = Manifest.read(index.folder)
    manifest.parameters.pop("store_dtype")
    manifest.write(index.folder)
    stage = Index.open(index.folder).retriever(k=3)
    assert stage.store.format == "float16" and stage.store.scales is None
    assert stage(QUERIES).docids("q2")


def test_token_store_option_reaches_cli_and_config_validation(tmp_path, tiny_checkpoint):
    from regard.cli.index_cmd import command
    from regard.errors import ParameterError
    from regard.kinds import index_kind

    for kind in ("multivector", "muvera"):
        declared = {p.name: p for p in index_kind(kind).build_parameters}["token_store"]
        assert declared.default == "float16" and declared.choices == ("float16", "int8")
        assert declared.cli_flag == "--token-store"
        with pytest.raises(ParameterError, match="token_store"):
            index_kind(kind).check_build({"token_store": "int4"})
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    result = CliRunner().invoke(command, [str(corpus), "--kind", "multivector", "--out", str(tmp_path / "idx"),
                                          "--model", str(tiny_checkpoint), "--precision", "fp32", "--device", "cpu",
                                          "--token-store", "int8"])
    assert result.exit_code == 0, result.output
    assert Index.open(tmp_path / "idx").manifest.parameters["store_dtype"] == "int8"
    refused = CliRunner().invoke(command, [str(corpus), "--kind", "multivector", "--out", str(tmp_path / "bad"),
                                           "--model", str(tiny_checkpoint), "--token-store", "int4"])
    assert refused.exit_code != 0 and "int4" in refused.output and not (tmp_path / "bad").exists()


def test_int8_store_without_scales_is_a_clear_error(tmp_path, tiny_checkpoint):
    from regard.indexing.token_store import SCALES_FILE

    index = Index.build(DOCS, tmp_path / "int8", kind="multivector", model=str(tiny_checkpoint),
                        precision="fp32", device="cpu", token_store="int8")
    (index.folder / SCALES_FILE).unlink()
    with pytest.raises(BadIndexError, match="scales"):
        Index.open(index.folder).retriever()
