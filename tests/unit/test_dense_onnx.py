"""The onnx encoder runtime: ONNX Runtime's vectors match torch's, the export is cached, choices are checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regard.encoders.dense import DenseEncoder, effective_runtime
from regard.models import resolve_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = [
    "p53 mutations are associated with poor prognosis in breast cancer",
    "short",
    "The mitochondrial electron transport chain produces reactive oxygen species under hypoxia, which "
    "stabilise HIF-1 alpha and drive a transcriptional programme of glycolytic genes in tumour cells " * 3,
    "Antibiotic resistance genes spread between bacteria by horizontal transfer on plasmids",
    "a b",
]


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory):
    """A randomly initialised two-layer BERT saved as a sentence-transformers folder (mean pooling, normalised)."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=128)
    raw = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(raw, safe_serialization=True)
    tokenizer.save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=64)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    folder = tmp_path_factory.mktemp("tiny-st")
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(str(folder))
    return str(folder)


@pytest.fixture()
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fp32_onnx_matches_torch_and_is_cached(tiny_st, own_cache):
    reference = DenseEncoder(tiny_st, device="cpu", precision="fp32", runtime="torch").encode(TEXTS)
    encoder = DenseEncoder(tiny_st, device="cpu", precision="fp32", runtime="onnx", batch_size=3)
    vectors = encoder.encode(TEXTS)  # batches of 3 mix lengths: padding must be masked in the exported graph
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    cosines = np.einsum("ij,ij->i", vectors, reference)
    assert cosines.min() >= 0.999, cosines
    assert np.abs(vectors - reference).max() < 1e-4
    exports = list(own_cache.glob("onnx/*/model.onnx"))
    assert len(exports) == 1 and encoder.onnx.path == exports[0]
    mtime = exports[0].stat().st_mtime_ns
    DenseEncoder(tiny_st, device="cpu", precision="fp32", runtime="onnx")  # reuses the export
    assert exports[0].stat().st_mtime_ns == mtime
    assert not list(own_cache.glob("onnx/*/.*partial"))


def test_int8_onnx_stays_close_to_fp32(tiny_st, own_cache):
    """Dynamic int8 quantisation changes the vectors (cosine >= 0.98 here, a looser bound than fp32's 0.999)."""
    reference = DenseEncoder(tiny_st, device="cpu", precision="fp32", runtime="torch").encode(TEXTS)
    encoder = DenseEncoder(tiny_st, device="cpu", precision="int8")
    assert encoder.runtime == "onnx" and encoder.onnx.path.name == "model_int8.onnx"
    vectors = encoder.encode(TEXTS)
    cosines = np.einsum("ij,ij->i", vectors, reference)
    assert cosines.min() >= 0.98, cosines
    assert np.abs(vectors - reference).max() > 1e-5  # really quantised
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)


def test_identity_names_the_onnx_runtime_and_keeps_torch_keys(tiny_st, own_cache):
    torch_identity = DenseEncoder(tiny_st, device="cpu", precision="fp32", runtime="torch").identity
    onnx_identity = DenseEncoder(tiny_st, device="cpu", precision="fp32", runtime="onnx").identity
    assert "runtime" not in torch_identity.as_dict()
    assert onnx_identity.as_dict()["runtime"] == "onnx"
    assert onnx_identity != torch_identity


def test_runtime_choices_are_checked():
    assert effective_runtime("auto", "int8", "cpu") == "onnx"
    assert effective_runtime("auto", "bf16", "cpu") == "torch"
    assert effective_runtime("auto", "fp16", "cuda") == "torch"
    assert effective_runtime("torch", "fp32", "cpu") == "torch"
    with pytest.raises(ValueError, match="int8"):
        effective_runtime("torch", "int8", "cpu")
    with pytest.raises(ValueError, match="onnx runtime"):
        effective_runtime("onnx", "bf16", "cpu")
    with pytest.raises(ValueError, match="runtime must be one of"):
        effective_runtime("tensorrt", "fp32", "cpu")


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    import builtins

    from regard.encoders.onnx_runtime import require_onnx_runtime
    from regard.errors import MissingExtraError

    real_import = builtins.__import__

    def without_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnxruntime)
    with pytest.raises(MissingExtraError, match=r"pip install 'regard\[onnx\]'"):
        require_onnx_runtime()


@pytest.fixture(scope="module")
def spread_cross_encoder(tmp_path_factory):
    """A random two-layer BERT cross-encoder whose larger initial weights give pairs clearly different scores."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1, initializer_range=0.3)
    folder = tmp_path_factory.mktemp("spread-ce")
    BertForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def test_cross_encoder_onnx_logits_match_torch(spread_cross_encoder, own_cache):
    from regard.encoders.pair_scorer import PairScorer

    tiny_checkpoint = spread_cross_encoder
    queries = ["p53 in cancer", "vitamin d", "a"] * 2
    documents = TEXTS[:3] + TEXTS[2:]
    reference = PairScorer.load(str(tiny_checkpoint), device="cpu", precision="fp32", runtime="torch", batch_size=4)
    scorer = PairScorer.load(str(tiny_checkpoint), device="cpu", precision="fp32", runtime="onnx", batch_size=4)
    assert scorer.runtime == "onnx" and scorer.identity == reference.identity + ":onnx"
    expected, got = reference.score(queries, documents), scorer.score(queries, documents)
    assert np.ptp(expected) > 0.1  # the pairs really score differently
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max()), (got, expected)
    int8 = PairScorer.load(str(tiny_checkpoint), device="cpu", precision="int8", batch_size=4)
    assert int8.runtime == "onnx"
    assert np.corrcoef(int8.score(queries, documents), expected)[0, 1] > 0.9


def test_int8_keeps_the_feed_forward_output_projections_in_float32(tiny_st, own_cache):
    """The recipe quantises the Attention projections and every MatMul but those fed by the GELU activation
    (see onnx_runtime._quantize)."""
    import onnx

    from regard.encoders.onnx_runtime import activation_fed_matmuls

    encoder = DenseEncoder(tiny_st, device="cpu", precision="int8")
    fp32 = onnx.load(str(encoder.onnx.path.with_name("model.onnx")), load_external_data=False)
    kept = activation_fed_matmuls(fp32)
    assert len(kept) == 2  # one per layer of the tiny two-layer BERT
    int8 = onnx.load(str(encoder.onnx.path), load_external_data=False)
    float_matmuls = {node.name for node in int8.graph.node if node.op_type == "MatMul"}
    assert float_matmuls == set(kept)
    assert any(node.op_type in ("DynamicQuantizeMatMul", "MatMulInteger") for node in int8.graph.node)
    assert any(node.op_type == "QAttention" for node in int8.graph.node)  # the fused attention's projections


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_streams_give_the_vectors_of_one_stream(tiny_st, own_cache, precision):
    """Batches run side by side on one session (streams) land in their own rows, as run one after another."""
    from regard.encoders.onnx_runtime import OnnxTransformer

    encoder = DenseEncoder(tiny_st, device="cpu", precision=precision, runtime="onnx", batch_size=2)
    texts = TEXTS * 5
    encoder.onnx = OnnxTransformer(encoder.model, encoder.onnx.path, threads=2, streams=1)
    one = encoder.encode(texts)
    encoder.onnx = OnnxTransformer(encoder.model, encoder.onnx.path, threads=2, streams=3)
    assert encoder.onnx.streams == 3
    several = encoder.encode(texts)
    assert np.abs(several - one).max() < 1e-5
    # Fewer texts than streams × batch size: smaller batches, same vectors (int8 runs each text alone).
    assert np.abs(encoder.encode(texts[:4]) - one[:4]).max() < 1e-5


def test_an_int8_vector_does_not_depend_on_the_texts_encoded_beside_it(tiny_st, own_cache):
    """int8 quantises activations per run, so each text runs alone: a query batched with others in the
    service gets the vector it gets on its own."""
    encoder = DenseEncoder(tiny_st, device="cpu", precision="int8", batch_size=8)
    together = encoder.encode(TEXTS)
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    assert np.abs(together - alone).max() < 1e-6


def test_auto_precision_on_a_cpu_without_native_bf16_is_int8_on_onnx(monkeypatch):
    from regard.encoders import dense, onnx_runtime

    monkeypatch.setattr(dense, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(onnx_runtime, "onnx_runtime_available", lambda: True)
    assert dense.encoder_precision("auto", "auto", "cpu") == "int8"
    assert dense.encoder_precision("auto", "onnx", "cpu") == "int8"
    assert dense.encoder_precision("auto", "torch", "cpu") == "fp32"  # torch has no int8
    assert dense.encoder_precision("fp32", "auto", "cpu") == "fp32"
    assert dense.encoder_precision("auto", "auto", "cuda") == "fp16"
    monkeypatch.setattr(onnx_runtime, "onnx_runtime_available", lambda: False)
    assert dense.encoder_precision("auto", "auto", "cpu") == "fp32"  # without the onnx extra
    monkeypatch.setattr(dense, "cpu_has_fast_bf16", lambda: True)
    assert dense.encoder_precision("auto", "auto", "cpu") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        dense.encoder_precision("int4", "auto", "cpu")
