"""Token-level (multi-vector) encoders: one L2-normalised vector per non-padding token.

Any Hugging Face encoder works: its last hidden states are the token vectors. ColBERT checkpoints
(``colbert-ir/colbertv2.0`` layout: a BERT under the ``bert.`` prefix, ``linear.weight`` projecting to
128 dimensions, ``artifact.metadata`` with the settings) are recognised and encoded as ColBERT does:
a query marker (``[unused0]``) or document marker (``[unused1]``) after ``[CLS]``, queries padded with
``[MASK]`` to ``query_maxlen`` (query augmentation, the mask tokens not attended to unless
``attend_to_mask_tokens``), and punctuation dropped from documents when ``mask_punctuation`` is set.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from regard.progress import progress_bar

from regard.data.types import Document
from regard.encoders.batching import default_attention_budget, rows_within_budget
from regard.encoders.dense import effective_precision
from regard.errors import ModelUnavailableError, RegardError
from regard.models import (
    DEFAULT_DENSE_MODEL, ResolvedModel, autocast, choose_device, loading_model, resolve_model,
)
from regard.native_memory import release_freed_memory

COLBERT_METADATA = "artifact.metadata"
DEFAULT_QUERY_MAX_LENGTH = 64
DEFAULT_DOCUMENT_MAX_LENGTH = 256


class RaggedVectors:
    """Variable-length groups of vectors in one matrix: group ``i`` is ``vectors[offsets[i]:offsets[i+1]]``.

    Quantised vectors (an int8 token store) carry ``scales``, one per vector: the real vector ``t`` is
    ``vectors[t] * scales[t]``. :meth:`rows` and indexing return real (dequantised) vectors; code that
    reads ``vectors`` directly must apply ``scales`` itself (MaxSim scales similarities, which is cheaper).
    """

    def __init__(self, vectors: np.ndarray, offsets: np.ndarray, scales: np.ndarray | None = None):
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a matrix, got shape {vectors.shape}")
        if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(vectors):
            raise ValueError("offsets must start at 0 and end at the number of vectors")
        if np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must not decrease")
        if scales is not None and scales.shape != (len(vectors),):
            raise ValueError(f"scales must have one value per vector ({len(vectors)}), got shape {scales.shape}")
        self.vectors = vectors
        self.offsets = offsets.astype(np.int64, copy=False)
        self.scales = scales

    def rows(self, start: int, stop: int, dtype=np.float32) -> np.ndarray:
        """Real vectors ``start:stop`` as ``dtype`` (dequantised when the vectors carry scales)."""
        block = np.asarray(self.vectors[start:stop], dtype=dtype)
        if self.scales is None:
            return block
        return block * np.asarray(self.scales[start:stop], dtype=dtype)[:, None]

    @classmethod
    def from_list(cls, groups: list[np.ndarray], dimension: int, dtype=np.float32) -> "RaggedVectors":
        """Concatenate a list of ``(n_i, dimension)`` arrays."""
        offsets = np.zeros(len(groups) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(g) for g in groups])
        if not groups:
            return cls(np.zeros((0, dimension), dtype), offsets)
        vectors = np.concatenate(groups, axis=0).astype(dtype, copy=False)
        return cls(vectors.reshape(-1, dimension), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        if self.scales is not None:
            return self.rows(int(self.offsets[i]), int(self.offsets[i + 1]))
        return self.vectors[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class TokenEncoderIdentity:
    """Everything that changes the token vectors; keys the token-vector cache and goes in manifests."""

    model: str
    revision: str | None
    precision: str
    dimension: int
    document_max_length: int
    query_max_length: int
    colbert: bool
    query_augmentation: bool
    mask_punctuation: bool
    document_prefix: str
    query_prefix: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_colbert_metadata(location: str | Path) -> dict[str, Any] | None:
    """The ``artifact.metadata`` settings of a ColBERT checkpoint folder, or None for other models."""
    path = Path(location) / COLBERT_METADATA
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RegardError(f"{path}: unreadable ColBERT metadata ({err})") from None
    if not isinstance(data, dict):
        raise RegardError(f"{path}: ColBERT metadata is not a JSON object")
    return data


def _read_state_dict(location: Path) -> dict[str, Any]:
    import torch

    if (location / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(location / "model.safetensors"))
    if (location / "pytorch_model.bin").is_file():
        return torch.load(location / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise RegardError(f"{location}: no model.safetensors or pytorch_model.bin in the ColBERT checkpoint")


def _load_colbert(location: Path, config):
    """BERT and the linear projection of a checkpoint in the ``colbert-ir/colbertv2.0`` layout."""
    import torch
    from transformers import AutoModel

    state = _read_state_dict(location)
    if "linear.weight" not in state:
        raise RegardError(f"{location}: a ColBERT checkpoint needs 'linear.weight' (the projection); not found")
    encoder = AutoModel.from_config(config)
    prefix = "bert." if any(k.startswith("bert.") for k in state) else ""
    body = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and not k.startswith("linear.")}
    result = encoder.load_state_dict(body, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids") and not k.startswith("pooler.")]
    if missing:
        raise RegardError(f"{location}: ColBERT checkpoint lacks encoder weights, e.g. {missing[:3]}")
    weight = state["linear.weight"]
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias="linear.bias" in state)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if "linear.bias" in state:
            linear.bias.copy_(state["linear.bias"])
    return encoder, linear


def _sentence_transformers_max_length(location: str) -> int | None:
    path = Path(location) / "sentence_bert_config.json"
    try:
        return int(json.loads(path.read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


class TokenEncoder:
    """Encodes texts into one L2-normalised vector per token (multi-vector representations).

    ``document_max_length`` and ``query_max_length`` count tokens including the special ones; they
    default to the ColBERT checkpoint's ``doc_maxlen`` / ``query_maxlen``, else to the model's
    sentence-transformers length (256 for all-MiniLM-L6-v2) and 64.
    """

    def __init__(
        self,
        model: str = DEFAULT_DENSE_MODEL,
        *,
        device: str | None = None,
        precision: str = "auto",
        batch_size: int = 32,
        document_max_length: int | None = None,
        query_max_length: int | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
        attention_budget: int | None = None,
    ):
        """``attention_budget``: the most rows × padded length² one forward pass takes (see `batching.py`);
        default ``batch_size`` × 256², 0 for no cap.
        """
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.resolved: ResolvedModel = resolve_model(model)
        self.device = choose_device(device)
        self.precision = effective_precision(precision, self.device)
        location = self.resolved.location
        try:
            with loading_model(self.resolved):
                config = AutoConfig.from_pretrained(location)
                self.tokenizer = AutoTokenizer.from_pretrained(location)
        except ModelUnavailableError:
            raise
        except OSError as err:
            raise RegardError(f"cannot load token encoder {model!r} from {location}: {err}") from None
        meta = read_colbert_metadata(location)
        self.colbert = meta is not None or "HF_ColBERT" in (getattr(config, "architectures", None) or [])
        meta = meta or {}
        if self.colbert:
            self.model, self.linear = _load_colbert(Path(location), config)
        else:
            self.model, self.linear = AutoModel.from_pretrained(location), None
        self.model.to(self.device).eval()
        if self.linear is not None:
            self.linear.to(self.device).eval()
        limit = int(getattr(config, "max_position_embeddings", 512) or 512)
        default_doc = (meta.get("doc_maxlen") or _sentence_transformers_max_length(location)
                       or DEFAULT_DOCUMENT_MAX_LENGTH)
        default_query = meta.get("query_maxlen") or DEFAULT_QUERY_MAX_LENGTH
        self.document_max_length = min(int(document_max_length or default_doc), limit)
        self.query_max_length = min(int(query_max_length or default_query), limit)
        if self.document_max_length < 4 or self.query_max_length < 4:
            raise RegardError("token encoder maximum lengths must be at least 4 tokens")
        self.query_augmentation = self.colbert
        self.attend_to_mask_tokens = bool(meta.get("attend_to_mask_tokens", False))
        self.mask_punctuation = self.colbert and bool(meta.get("mask_punctuation", True))
        self.query_marker = self._marker_id(meta.get("query_token_id", "[unused0]")) if self.colbert else None
        self.document_marker = self._marker_id(meta.get("doc_token_id", "[unused1]")) if self.colbert else None
        self._skip_ids = self._punctuation_ids() if self.mask_punctuation else frozenset()
        self.batch_size = batch_size
        self.attention_budget = (default_attention_budget(batch_size) if attention_budget is None
                                 else attention_budget or None)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        hidden = int(config.hidden_size)
        self.dimension = int(self.linear.out_features) if self.linear is not None else hidden

    # ----------------------------------------------------------------------------------------------
    # Identity and helpers

    @property
    def identity(self) -> TokenEncoderIdentity:
        return TokenEncoderIdentity(
            model=self.resolved.name, revision=self.resolved.revision, precision=self.precision,
            dimension=self.dimension, document_max_length=self.document_max_length,
            query_max_length=self.query_max_length, colbert=self.colbert,
            query_augmentation=self.query_augmentation, mask_punctuation=self.mask_punctuation,
            document_prefix=self.document_prefix, query_prefix=self.query_prefix,
        )

    def _marker_id(self, token: str) -> int:
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise RegardError(f"ColBERT marker token {token!r} is not in the tokenizer's vocabulary")
        return int(token_id)

    def _punctuation_ids(self) -> frozenset[int]:
        ids = set()
        for symbol in string.punctuation:
            pieces = self.tokenizer.encode(symbol, add_special_tokens=False)
            if len(pieces) == 1:
                ids.add(pieces[0])
        return frozenset(ids)

    def document_texts(self, documents: list[Document]) -> list[str]:
        """Title and text joined by a space, with the document prefix."""
        return [self.document_prefix + doc.contents for doc in documents]

    def _input_ids(self, texts: list[str], max_length: int, marker: int | None) -> list[list[int]]:
        """Token ids with the model's special tokens (and a ColBERT marker after the first), truncated."""
        budget = max_length - (marker is not None)
        pieces = self.tokenizer(texts, truncation=True, max_length=budget)["input_ids"]
        out = []
        for ids in pieces:
            ids = list(ids)
            out.append(ids[:1] + [marker] + ids[1:] if marker is not None else ids)
        return out

    # ----------------------------------------------------------------------------------------------
    # Encoding

    def encode_documents(self, texts: list[str], progress: bool = False) -> RaggedVectors:
        """Token vectors of documents (float32), in input order; padding and skipped punctuation dropped."""
        ids = self._input_ids(texts, self.document_max_length, self.document_marker)
        return self._encode(ids, augment=False, skip=self._skip_ids, progress=progress, desc="Encoding tokens")

    def encode_queries(self, texts: list[str], progress: bool = False) -> RaggedVectors:
        """Token vectors of queries (float32); ColBERT queries are padded with [MASK] to query_max_length."""
        ids = self._input_ids([self.query_prefix + t for t in texts], self.query_max_length, self.query_marker)
        return self._encode(ids, augment=self.query_augmentation, skip=frozenset(), progress=progress,
                            desc="Encoding queries")

    def _encode(self, ids: list[list[int]], augment: bool, skip: frozenset[int], progress: bool,
                desc: str) -> RaggedVectors:
        import torch

        groups: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        mask_id = self.tokenizer.mask_token_id
        skipped = torch.tensor(sorted(skip), dtype=torch.long)
        bar = progress_bar(total=len(ids), desc=desc, unit="text", disable=not progress)
        with torch.inference_mode(), autocast(self.device, self.precision):
            start = 0
            while start < len(order):
                # Longest first: the first row's length decides how many rows fit the attention budget.
                longest = self.query_max_length if augment else len(ids[order[start]])
                rows = order[start:start + rows_within_budget(longest, self.batch_size, self.attention_budget)]
                start += len(rows)
                width = self.query_max_length if augment else max(len(ids[i]) for i in rows)
                batch = torch.full((len(rows), width), pad if not augment else mask_id, dtype=torch.long)
                attention = torch.zeros((len(rows), width), dtype=torch.long)
                keep = torch.zeros((len(rows), width), dtype=torch.bool)
                for j, i in enumerate(rows):
                    n = len(ids[i])
                    batch[j, :n] = torch.tensor(ids[i])
                    attention[j, :n] = 1
                    keep[j, :n] = True
                    if augment:
                        keep[j, :] = True
                        if self.attend_to_mask_tokens:
                            attention[j, :] = 1
                    elif skip:
                        keep[j, :n] &= ~torch.isin(batch[j, :n], skipped)
                hidden = self.model(input_ids=batch.to(self.device),
                                    attention_mask=attention.to(self.device)).last_hidden_state
                if self.linear is not None:
                    hidden = self.linear(hidden)
                hidden = torch.nn.functional.normalize(hidden.float(), dim=-1).cpu()
                for j, i in enumerate(rows):
                    groups[i] = hidden[j][keep[j]].numpy()
                bar.update(len(rows))
        bar.close()
        vectors = RaggedVectors.from_list(groups, self.dimension)
        del groups
        if len(ids) >= self.batch_size:
            release_freed_memory()
        return vectors
