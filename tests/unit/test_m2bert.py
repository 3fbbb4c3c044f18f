"""M2-BERT: the FFT long convolution, block-diagonal layers, the forward pass, and loading checkpoints
saved in the published layout (random weights: no M2-BERT weights can be installed offline)."""

from __future__ import annotations

import json

import pytest
import torch

from regard.encoders.m2bert import (M2_BERT_80M_32K, M2BertConfig, M2BertEncoder, M2BertModel,
                                    direct_long_convolution, is_m2bert_checkpoint, load_checkpoint,
                                    long_convolution, save_checkpoint)
from regard.encoders.m2bert.layers import BlockDiagonalLinear
from regard.errors import RegardError
from regard.models import resolve_model

TINY = M2BertConfig(hidden_size=16, num_hidden_layers=2, intermediate_size=32, max_position_embeddings=64,
                    long_conv_l_max=64, hyena_filter_order=8)

# config.json of togethercomputer/m2-bert-80M-32k-retrieval (revision a2ccdc5), fields as published.
PUBLISHED_32K_CONFIG = {
    "_name_or_path": "togethercomputer/m2-bert-80M-32k-retrieval", "alibi_starting_size": 32768,
    "architectures": ["BertForSequenceClassification"], "attention_probs_dropout_prob": 0.0, "bidirectional": True,
    "auto_map": {"AutoConfig": "configuration_bert.BertConfig", "AutoModel": "bert_layers.BertModel",
                 "AutoModelForSequenceClassification": "bert_layers.BertForTextEncoding"},
    "classifier_dropout": None, "gradient_checkpointing": False, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 768, "hyena_emb_dim": 5, "hyena_filter_dropout": 0.2, "hyena_filter_order": 128,
    "hyena_lr_pos_emb": 1e-05, "hyena_training_additions": False, "hyena_w": 10, "hyena_w_mod": 1, "hyena_wd": 0.1,
    "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-12,
    "long_conv_kernel_learning_rate": 0.001, "long_conv_l_max": 32768, "max_position_embeddings": 32768,
    "model_type": "m2_bert", "monarch_mlp_nblocks": 4, "num_attention_heads": 12, "num_hidden_layers": 12,
    "pad_token_id": 0, "pool_all": False, "position_embedding_type": "absolute", "residual_long_conv": True,
    "transformers_version": "4.28.1", "type_vocab_size": 2, "use_cache": True, "use_glu_mlp": True,
    "use_monarch_mlp": True, "use_positional_encodings": True, "vocab_size": 30528,
}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    # all-MiniLM-L6-v2 ships bert-base-uncased's word-piece vocabulary, the tokenizer M2-BERT uses.
    return AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return M2BertModel(TINY).eval()


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("length", [1, 7, 32])
def test_fft_long_convolution_equals_direct_convolution(bidirectional, length):
    generator = torch.Generator().manual_seed(length)
    u = torch.randn(2, 3, length, generator=generator, dtype=torch.float64).float()
    forward = torch.randn(3, length, generator=generator)
    reverse = torch.randn(3, length, generator=generator) if bidirectional else None
    skip = torch.randn(3, generator=generator)
    fast = long_convolution(u, forward, reverse, skip)
    slow = direct_long_convolution(u, forward, reverse, skip)
    assert torch.allclose(fast, slow, atol=1e-4, rtol=1e-4)
    # spot-check one output by the definition: y[n] = sum_{m<=n} u[m] kf[n-m] + sum_{m>n} u[m] kr[m-n-1] + D u[n]
    n = length // 2
    expected = sum(u[1, 2, m] * forward[2, n - m] for m in range(n + 1)) + skip[2] * u[1, 2, n]
    if bidirectional:
        expected = expected + sum(u[1, 2, m] * reverse[2, m - n - 1] for m in range(n + 1, length))
    assert float(fast[1, 2, n]) == pytest.approx(float(expected), abs=1e-4)


def test_block_diagonal_linear_is_a_block_diagonal_matrix():
    torch.manual_seed(1)
    for in_features, out_features, blocks in [(16, 64, 4), (10, 6, 4)]:
        layer = BlockDiagonalLinear(in_features, out_features, blocks)
        x = torch.randn(3, 5, in_features)
        expected = x @ layer.dense_weight().T + layer.bias
        assert torch.allclose(layer(x), expected, atol=1e-5)
        assert layer.weight.shape == (blocks, -(-out_features // blocks), -(-in_features // blocks))
    dense = BlockDiagonalLinear(8, 8, 2).dense_weight()
    assert torch.count_nonzero(dense[:4, 4:]) == 0 and torch.count_nonzero(dense[4:, :4]) == 0


def test_published_config_reads_as_the_80m_32k_architecture():
    config = M2BertConfig.from_dict(PUBLISHED_32K_CONFIG)
    assert config == M2_BERT_80M_32K
    at_128 = M2BertModel(config.with_length(128))
    # The published name: 80M parameters (the 32k model adds its longer position table and filter inputs).
    assert 79e6 < sum(p.numel() for p in at_128.parameters()) < 81e6
    with pytest.raises(RegardError, match="attention"):
        M2BertConfig.from_dict({**PUBLISHED_32K_CONFIG, "monarch_mixer_sequence_mixing": False})


def test_state_dict_uses_the_published_key_layout(tiny_model):
    keys = set(tiny_model.state_dict())
    layer = "encoder.layer.1.attention."
    for key in ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
                layer + "in_linear.weight", layer + "out_linear.bias", layer + "short_filter.weight",
                layer + "filter_fn.bias", layer + "filter_fn.pos_emb.z", layer + "filter_fn.pos_emb.t",
                layer + "filter_fn.modulation.deltas", layer + "filter_fn.implicit_filter.0.weight",
                layer + "filter_fn.implicit_filter.1.freq", layer + "filter_fn.implicit_filter.6.weight",
                layer + "filter_fn.implicit_filter_rev.5.freq", layer + "filter_fn2.implicit_filter_rev.4.bias",
                "encoder.layer.1.mlp.gated_layers.weight", "encoder.layer.1.mlp.wo.weight",
                "encoder.layer.1.mlp.wo.bias", "encoder.layer.1.mlp.layernorm.weight",
                "pooler.dense.weight", "pooler.dense.bias"]:
        assert key in keys, key
    state = tiny_model.state_dict()
    assert state[layer + "filter_fn.pos_emb.z"].shape == (1, 64, 5)
    assert state["encoder.layer.0.mlp.gated_layers.weight"].shape == (4, 16, 4)  # (blocks, 2*32/4, 16/4)
    assert state["encoder.layer.0.attention.short_filter.weight"].shape == (48, 1, 3)
    assert "encoder.layer.0.mlp.gated_layers.bias" not in keys


def test_forward_shapes_and_length_limit(tiny_model):
    ids = torch.randint(1000, 2000, (3, 20))
    hidden, pooled = tiny_model(ids)
    assert hidden.shape == (3, 20, 16) and pooled.shape == (3, 16)
    assert torch.all(pooled.abs() <= 1)  # tanh pooler
    with pytest.raises(ValueError, match="exceeds"):
        tiny_model(torch.randint(1000, 2000, (1, 65)))


def test_convolutions_see_padding_but_mean_pooling_skips_it(tiny_model):
    ids = torch.randint(1000, 2000, (1, 10))
    padded = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], dim=1).long()
    short, _ = tiny_model(ids)
    long, _ = tiny_model(padded, mask)
    # Like the published mixer, the bidirectional convolutions read the padding: states change.
    assert not torch.allclose(short, long[:, :10], atol=1e-4)
    pooling = M2BertModel(M2BertConfig(**{**TINY.__dict__, "pool_all": True})).eval()
    hidden, pooled = pooling(padded, mask)
    expected = torch.tanh(pooling.pooler.dense(hidden[:, :10].mean(1)))
    assert torch.allclose(pooled, expected, atol=1e-5)


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_checkpoint_in_published_layout_round_trips(tmp_path, tiny_model, tokenizer, fmt):
    folder = save_checkpoint(tiny_model, tmp_path / "m2", tokenizer=tokenizer, fmt=fmt)
    if fmt == "bin":  # the published .bin also holds the position-id buffer; the loader ignores it
        state = torch.load(folder / "pytorch_model.bin", weights_only=True)
        assert "bert.encoder.layer.0.attention.filter_fn.implicit_filter.3.freq" in state
        state["bert.embeddings.position_ids"] = torch.arange(64)[None]
        torch.save(state, folder / "pytorch_model.bin")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "m2_bert" and config["long_conv_l_max"] == 64
    assert is_m2bert_checkpoint(str(folder))
    loaded = load_checkpoint(str(folder))
    assert loaded.config == TINY
    for name, tensor in tiny_model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name

    encoder = M2BertEncoder(str(folder), precision="fp32", batch_size=2)
    texts = ["long documents need long encoders", "a query", "monarch mixer convolutions by fft"]
    vectors = encoder.encode(texts)
    batch = tokenizer(texts, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
    with torch.no_grad():
        _, pooled = tiny_model(batch["input_ids"], batch["attention_mask"])
    expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    assert vectors.shape == (3, 16)
    assert abs(vectors - expected).max() < 1e-5
    # padding to the full length makes a text's vector independent of its batch
    assert abs(encoder.encode(texts[1:2]) - vectors[1:2]).max() < 1e-5


def test_missing_or_misshapen_weights_are_errors(tmp_path, tiny_model):
    folder = save_checkpoint(tiny_model, tmp_path / "m2", fmt="bin")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    del state["bert.encoder.layer.1.mlp.wo.weight"]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(RegardError, match="missing.*mlp.wo.weight"):
        load_checkpoint(str(folder))
    save_checkpoint(tiny_model, tmp_path / "other", fmt="safetensors")
    (tmp_path / "other" / "config.json").write_text(json.dumps({**TINY.to_dict(), "intermediate_size": 48}))
    with pytest.raises(RegardError, match="shape"):
        load_checkpoint(str(tmp_path / "other"))


def test_batches_are_capped_by_padded_tokens(tmp_path, tiny_model, tokenizer):
    folder = save_checkpoint(tiny_model, tmp_path / "m2", tokenizer=tokenizer)
    assert M2BertEncoder(str(folder), batch_size=64, tokens_per_batch=256).batch_size == 4  # 256 // 64 tokens
    assert M2BertEncoder(str(folder), batch_size=64, pad_to_max_length=False).batch_size == 64


def test_hub_name_downloads_weights_and_config_but_no_code(tmp_path, tiny_model, tokenizer, monkeypatch):
    import huggingface_hub

    folder = save_checkpoint(tiny_model, tmp_path / "snapshot", tokenizer=tokenizer, fmt="bin")
    requested = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, local_files_only=False, **kwargs):
        if local_files_only:
            raise FileNotFoundError("not cached")
        requested.append((repo_id, allow_patterns))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    name = "togethercomputer/m2-bert-80M-2k-retrieval"
    assert is_m2bert_checkpoint(name)
    loaded = load_checkpoint(name)
    assert loaded.resolved.name == name and loaded.config == TINY
    [(repo, patterns)] = requested
    assert repo == name and "pytorch_model.bin" in patterns and "config.json" in patterns
    assert not any(pattern.endswith(".py") or pattern == "*" for pattern in patterns)  # never remote code
