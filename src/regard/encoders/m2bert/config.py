"""M2-BERT configuration: the fields of the published ``config.json`` that shape the network.

The published checkpoints (``togethercomputer/m2-bert-80M-{2k,8k,32k}-retrieval``) ship a Hugging Face
``config.json`` with ``model_type`` ``m2_bert`` (older revisions say ``bert``) and Monarch Mixer fields
such as ``long_conv_l_max``, ``hyena_filter_order`` and ``monarch_mlp_nblocks``. Only the fields that
change the forward pass are kept; training-only fields (learning rates, dropout, weight decay) are
ignored on reading and written back with their published values so a saved folder looks like theirs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from regard.errors import RegardError

MODEL_TYPE = "m2_bert"

# Written alongside the architecture fields so a saved config.json reads like the published one.
_PUBLISHED_EXTRAS: dict[str, Any] = {
    "architectures": ["BertForSequenceClassification"],
    "model_type": MODEL_TYPE,
    "attention_probs_dropout_prob": 0.0,
    "hidden_dropout_prob": 0.1,
    "classifier_dropout": None,
    "hyena_filter_dropout": 0.2,
    "hyena_lr_pos_emb": 1e-05,
    "hyena_training_additions": False,
    "hyena_wd": 0.1,
    "initializer_range": 0.02,
    "long_conv_kernel_learning_rate": 0.001,
    "num_attention_heads": 12,
    "position_embedding_type": "absolute",
}


@dataclass(frozen=True)
class M2BertConfig:
    """Architecture of an M2-BERT encoder (defaults: the published 80M, 32k-token retrieval model)."""

    vocab_size: int = 30528  # bert-base-uncased's 30522, padded to a multiple of 8
    hidden_size: int = 768
    num_hidden_layers: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 32768
    long_conv_l_max: int = 32768
    type_vocab_size: int = 2
    pad_token_id: int = 0
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    use_positional_encodings: bool = True
    # sequence mixer: gated bidirectional long convolutions with implicit (Hyena) filters
    bidirectional: bool = True
    residual_long_conv: bool = True
    hyena_emb_dim: int = 5
    hyena_filter_order: int = 128
    hyena_w: float = 10.0
    hyena_w_mod: float = 1.0
    # state mixer: GLU MLP whose matrices are block-diagonal (Monarch)
    use_glu_mlp: bool = True
    use_monarch_mlp: bool = True
    monarch_mlp_nblocks: int = 4
    # sentence embedding: the pooler over the first token, or over the mean of unmasked tokens
    pool_all: bool = False

    def __post_init__(self):
        if self.hyena_emb_dim < 3 or self.hyena_emb_dim % 2 == 0:
            raise RegardError(f"hyena_emb_dim must be odd and at least 3, got {self.hyena_emb_dim}")
        if self.long_conv_l_max > self.max_position_embeddings and self.use_positional_encodings:
            raise RegardError("long_conv_l_max exceeds max_position_embeddings")

    @property
    def max_length(self) -> int:
        """The longest input, in tokens, the filters and position table cover."""
        return min(self.long_conv_l_max, self.max_position_embeddings) if self.use_positional_encodings \
            else self.long_conv_l_max

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "M2BertConfig":
        """Read a published ``config.json`` mapping; unknown and training-only fields are ignored."""
        if data.get("monarch_mixer_sequence_mixing") is False:
            raise RegardError("this checkpoint uses attention, not the Monarch Mixer sequence mixer; "
                              "load it as an ordinary BERT model")
        if data.get("hyena_training_additions"):
            raise RegardError("hyena_training_additions=True checkpoints are not supported")
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "long_conv_l_max" not in values and "max_position_embeddings" in values:
            values["long_conv_l_max"] = values["max_position_embeddings"]
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> "M2BertConfig":
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise RegardError(f"{path}: not a JSON config ({error})") from None

    def to_dict(self) -> dict[str, Any]:
        """The published ``config.json`` layout."""
        data = dict(_PUBLISHED_EXTRAS)
        data.update(asdict(self))
        data["alibi_starting_size"] = self.max_position_embeddings
        data["monarch_mixer_sequence_mixing"] = True
        return dict(sorted(data.items()))

    def with_length(self, length: int) -> "M2BertConfig":
        """The same architecture for inputs up to ``length`` tokens (the 2k/8k/32k variants)."""
        return replace(self, max_position_embeddings=length, long_conv_l_max=length)


M2_BERT_80M_32K = M2BertConfig()
"""The published 80M configuration at 32,768 tokens; ``with_length(2048)`` / ``(8192)`` give the others."""

PUBLISHED_CHECKPOINTS = {
    "togethercomputer/m2-bert-80M-2k-retrieval": 2048,
    "togethercomputer/m2-bert-80M-8k-retrieval": 8192,
    "togethercomputer/m2-bert-80M-32k-retrieval": 32768,
}
