"""M2-BERT, the long-context Monarch Mixer retrieval encoder, in regard's own code.

``M2BertEncoder("togethercomputer/m2-bert-80M-32k-retrieval")`` loads a published checkpoint (or a
folder in the same layout) without ``trust_remote_code`` and encodes texts as the published model
does: bert-base-uncased word pieces, every input padded to the model's full length, the pooled
first-token output as the sentence embedding (L2-normalised here, so inner product is cosine, the
similarity the published evaluation uses). It offers `DenseEncoder`'s interface, so dense indexes,
the embedding cache and `DenseRetriever` use it unchanged (``regard index --kind dense --model ...``).
"""

from __future__ import annotations

import numpy as np
from regard.progress import progress_bar

from regard.encoders.dense import DenseEncoder, EncoderIdentity, effective_precision
from regard.encoders.m2bert.config import M2_BERT_80M_32K, PUBLISHED_CHECKPOINTS, M2BertConfig
from regard.encoders.m2bert.layers import M2BertModel, direct_long_convolution, long_convolution
from regard.encoders.m2bert.loading import (is_m2bert_checkpoint, load_checkpoint, load_tokenizer, load_weights,
                                            save_checkpoint)
from regard.models import autocast, choose_device

__all__ = [
    "M2BertConfig", "M2BertModel", "M2BertEncoder", "M2_BERT_80M_32K", "PUBLISHED_CHECKPOINTS",
    "load_checkpoint", "load_weights", "save_checkpoint", "is_m2bert_checkpoint",
    "long_convolution", "direct_long_convolution",
]


class M2BertEncoder(DenseEncoder):
    """Encodes queries and documents with an M2-BERT checkpoint (`DenseEncoder`'s interface).

    ``pad_to_max_length=True`` (the default) pads every input to ``max_length`` as the published
    model does; since the convolutions see the padding, this is what makes the vectors match theirs.
    ``False`` pads only to the longest input of a batch: much faster for short texts on a CPU, but the
    vectors differ from the published ones. ``max_length`` defaults to the checkpoint's length.
    A batch holds at most ``tokens_per_batch`` padded tokens (``batch_size`` is lowered to fit), so
    the 32k model encodes one text at a time whatever batch size an index command passes.
    Query prefixes and document texts (title and text) are handled as `DenseEncoder` does.
    """

    def __init__(self, model: str, *, device: str | None = None, precision: str = "auto", batch_size: int = 8,
                 max_length: int | None = None, normalize: bool = True, query_prefix: str = "",
                 document_prefix: str = "", pad_to_max_length: bool = True, revision: str | None = None,
                 tokens_per_batch: int = 65536):
        import torch  # DenseEncoder.__init__ (sentence-transformers) is not called: the model is ours

        loaded = load_checkpoint(model, revision=revision)
        self.resolved = loaded.resolved
        self.config = loaded.config
        self.device = choose_device(device)
        self.precision = effective_precision(precision, self.device)
        self.model = loaded.model.to(self.device)
        self.max_length = min(max_length or self.config.max_length, self.config.max_length)
        self.tokenizer = load_tokenizer(loaded.folder, self.max_length)
        self.batch_size = max(1, min(batch_size, tokens_per_batch // self.max_length)) if pad_to_max_length \
            else batch_size
        self.normalize = normalize
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.pad_to_max_length = pad_to_max_length
        self._torch = torch

    @property
    def dimension(self) -> int:
        return self.config.hidden_size

    @property
    def identity(self) -> EncoderIdentity:
        revision = self.resolved.revision
        if not self.pad_to_max_length:  # different vectors: keep them apart in the embedding cache
            revision = f"{revision or ''}+dynamic-padding"
        return EncoderIdentity(
            model=self.resolved.name, revision=revision, precision=self.precision,
            max_length=self.max_length, normalize=self.normalize, document_prefix=self.document_prefix,
            query_prefix=self.query_prefix,
        )

    def embed_batch(self, texts: list[str]):
        """Sentence embeddings (a float32 tensor) of one batch, in input order."""
        torch = self._torch
        batch = self.tokenizer(
            texts, padding="max_length" if self.pad_to_max_length else "longest", truncation=True,
            max_length=self.max_length, return_tensors="pt", return_token_type_ids=False,
        )
        with torch.inference_mode(), autocast(self.device, self.precision):
            _, pooled = self.model(batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device))
        pooled = pooled.float()
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.cpu()

    def encode(self, texts: list[str], progress: bool = False, desc: str = "Encoding") -> np.ndarray:
        """Encode texts into a float32 matrix, one row per text, in input order."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bar = progress_bar(total=len(texts), desc=desc, unit="text", disable=not progress)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            out[rows] = self.embed_batch([texts[i] for i in rows]).numpy()
            bar.update(len(rows))
        bar.close()
        return out

