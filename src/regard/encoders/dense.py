"""Dense bi-encoders: sentence-transformers models, normalised embeddings, fast CPU inference.

Speed on the CPU comes from storing the transformer's weights in bfloat16 where the processor
multiplies bfloat16 natively (AMX or AVX512-BF16), and in float16 on a GPU: the whole pass runs in
that type, without autocast's conversions of every activation back and forth. On other CPUs the
default is int8 on ONNX Runtime (the ``onnx`` runtime, see `onnx_runtime.py`, with the ``onnx`` extra;
float32 on torch without it), with batches run side by side on one session (`streams.py`); float32 on
either runtime is an option. `benchmarks/encode_peers.py` measures speed and quality against float32
and against the peers' configurations. Batches are formed from texts sorted by length so padding
stays small, and long batches are split to an attention budget (`batching.py`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from regard.progress import progress_bar

from regard.data.types import Document
from regard.encoders.batching import default_attention_budget, split_features
from regard.encoders.streams import in_streams
from regard.models import (
    DEFAULT_DENSE_MODEL, ResolvedModel, autocast, choose_device, cpu_has_fast_bf16, loading_model, resolve_model,
)
from regard.native_memory import release_freed_memory

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# int8 exists only on the onnx runtime (ONNX Runtime's dynamic quantisation).
ENCODER_PRECISIONS = (*PRECISIONS, "int8")
RUNTIMES = ("auto", "torch", "onnx")


@dataclass(frozen=True)
class EncoderIdentity:
    """Everything that changes the vectors an encoder produces; keys the embedding cache."""

    model: str
    revision: str | None
    precision: str
    max_length: int
    normalize: bool
    document_prefix: str
    query_prefix: str
    weights: str | None = None  # "bf16"/"fp16": weights stored in that type (not autocast over float32)
    runtime: str | None = None  # "onnx" when ONNX Runtime computes the transformer; None for torch

    def as_dict(self) -> dict[str, Any]:
        # Without these fields' values the dictionary (and so the embedding-cache key) is as before the fields.
        return {k: v for k, v in self.__dict__.items() if k not in ("weights", "runtime") or v is not None}


def effective_precision(precision: str, device: str) -> str:
    """Resolve ``auto``: fp16 on a GPU, bf16 on a CPU with native bfloat16, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "fp16"
    return "bf16" if device == "cpu" and cpu_has_fast_bf16() else "fp32"


def encoder_precision(precision: str, runtime: str, device: str) -> str:
    """Resolve a dense encoder's ``precision`` for ``runtime`` on ``device``.

    ``auto`` is fp16 on a GPU and bf16 on a CPU with native bfloat16, as :func:`effective_precision`. On other
    CPUs it is int8 on ONNX Runtime when the ``onnx`` extra is installed and ``runtime`` is ``auto`` or
    ``onnx``, else fp32: there int8 was the fastest configuration measured, regard's or a peer's, with
    nDCG@10 within 0.002 of float32 (all-MiniLM-L6-v2 on SciFact; docs/RESULTS.md, issue 16).
    """
    if precision not in ENCODER_PRECISIONS:
        raise ValueError(f"precision must be one of {ENCODER_PRECISIONS}, got {precision!r}")
    if precision == "int8":
        return precision
    resolved = effective_precision(precision, device)
    if precision == "auto" and resolved == "fp32" and device == "cpu" and runtime in ("auto", "onnx"):
        from regard.encoders.onnx_runtime import onnx_runtime_available

        if onnx_runtime_available():
            return "int8"
    return resolved


def effective_runtime(runtime: str, precision: str, device: str) -> str:
    """Resolve ``auto`` for an (already resolved) precision: ``onnx`` for int8 (only ONNX Runtime has it),
    ``torch`` otherwise. ONNX Runtime for fp32 is an option (``runtime="onnx"``), not the default: on a
    quiet AVX2 machine it was 1.06× regard's torch fp32, within the noise of that run (docs/RESULTS.md).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    onnx_fits = device == "cpu" and precision in ("fp32", "int8")
    if runtime == "onnx" and not onnx_fits:
        raise ValueError(f"the onnx runtime encodes in fp32 or int8 on the CPU, not {precision} on {device}")
    if precision == "int8":
        if runtime == "torch" or device != "cpu":
            raise ValueError("precision int8 runs on the onnx runtime on the CPU (runtime='onnx' or 'auto')")
        return "onnx"
    if runtime != "auto":
        return runtime
    return "torch"


class DenseEncoder:
    """Encodes queries and documents into L2-normalised vectors with a sentence-transformers model."""

    def __init__(
        self,
        model: str = DEFAULT_DENSE_MODEL,
        *,
        device: str | None = None,
        precision: str = "auto",
        batch_size: int = 64,
        max_length: int | None = None,
        normalize: bool = True,
        query_prefix: str = "",
        document_prefix: str = "",
        trust_remote_code: bool = False,
        runtime: str = "auto",
        attention_budget: int | None = None,
    ):
        """``runtime``: what computes the transformer: ``torch``, ``onnx`` (ONNX Runtime on the CPU, fp32 or
        int8; needs the ``onnx`` extra) or ``auto`` (see :func:`effective_runtime`).

        ``attention_budget``: the most rows × padded length² one forward pass takes (see `batching.py`);
        longer batches are split. Default ``batch_size`` × 256², which leaves batches of up to 256 tokens
        whole; 0 turns the cap off.
        """
        from sentence_transformers import SentenceTransformer

        self.resolved: ResolvedModel = resolve_model(model)
        self.device = choose_device(device)
        self.precision = encoder_precision(precision, runtime, self.device)
        self.runtime = effective_runtime(runtime, self.precision, self.device)
        with loading_model(self.resolved):
            self.model = SentenceTransformer(
                self.resolved.location, device=self.device, trust_remote_code=trust_remote_code
            )
        if max_length:
            self.model.max_seq_length = max_length
        self.onnx = None
        self._tokenizer_lock = threading.Lock()
        if self.runtime == "onnx":
            self.onnx = self._onnx_session(self.precision == "int8")
        # bf16 anywhere, fp16 on GPUs (float16 on a CPU stays autocast over float32 weights).
        low = self.precision == "bf16" or (self.precision == "fp16" and not self.device.startswith("cpu"))
        self.weights = self.precision if low else None
        if self.weights:
            import torch

            self.model.to(torch.bfloat16 if self.weights == "bf16" else torch.float16)
        self.batch_size = batch_size
        self.attention_budget = (default_attention_budget(batch_size) if attention_budget is None
                                 else attention_budget or None)
        self.normalize = normalize
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix

    def _onnx_session(self, int8: bool):
        from regard.encoders.onnx_runtime import (
            OnnxTransformer, cached_export, model_inputs, require_onnx_runtime, transformer_module,
        )

        require_onnx_runtime()
        path = cached_export(transformer_module(self.model), name=self.resolved.name, location=self.resolved.location,
                             revision=self.resolved.revision, inputs=model_inputs(self.model), int8=int8)
        return OnnxTransformer(self.model, path)

    @property
    def dimension(self) -> int:
        # sentence-transformers renamed the method in 6.x; accept both.
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def identity(self) -> EncoderIdentity:
        return EncoderIdentity(
            model=self.resolved.name,
            revision=self.resolved.revision,
            precision=self.precision,
            max_length=int(self.model.max_seq_length),
            normalize=self.normalize,
            document_prefix=self.document_prefix,
            query_prefix=self.query_prefix,
            weights=self.weights,
            runtime="onnx" if self.runtime == "onnx" else None,
        )

    def encode(self, texts: list[str], progress: bool = False, desc: str = "Encoding") -> np.ndarray:
        """Encode texts into a float32 matrix, one row per text, in input order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        bar = progress_bar(total=len(texts), desc=desc, unit="text", disable=not progress)
        streams = self.onnx.streams if self.onnx is not None else 1
        # int8 quantises activations per run: one text per run keeps each vector independent of the texts
        # beside it, and was faster here than batches (no padding; 22.1 against 16.6 MiniLM abstracts/s).
        per_run = 1 if self.precision == "int8" else self.batch_size
        # Fewer texts than streams × batch size: smaller batches, so every stream gets one.
        size = min(per_run, -(-len(texts) // streams))
        batches = (np.asarray(order[start:start + size]) for start in range(0, len(order), size))
        for rows in in_streams(lambda rows: self._encode_batch([texts[i] for i in rows], rows, out), batches, streams):
            bar.update(len(rows))
        bar.close()
        if len(texts) >= self.batch_size:
            release_freed_memory()
        return out

    def _encode_batch(self, texts: list[str], rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Encode one batch into ``out[rows]`` (split to the attention budget); returns ``rows``."""
        import torch

        # inference_mode and autocast hold per thread: entered here, where the batch runs.
        with torch.inference_mode(), autocast(self.device, "fp32" if self.weights else self.precision):
            with self._tokenizer_lock:  # a fast tokenizer resets its padding state per call: one caller at a time
                features = self._tokenize(texts)
            for picked, part in split_features(features, self.attention_budget):
                vectors = self._encode_features(part).float()
                if self.normalize:  # in float32: a bfloat16 norm is off by up to 0.4%
                    vectors = torch.nn.functional.normalize(vectors, dim=-1)
                out[rows[picked.numpy()]] = vectors.cpu().numpy()
        return rows

    def _tokenize(self, texts: list[str]) -> dict[str, Any]:
        """The model's own preprocessing (``preprocess`` in sentence-transformers 6, ``tokenize`` before)."""
        preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize
        return preprocess(texts)

    def _encode_features(self, features: dict[str, Any]):
        """Sentence embeddings of tokenised texts, as `SentenceTransformer.encode` computes them."""
        if self.onnx is not None:
            return self.onnx.encode_features(features)
        from sentence_transformers.util import batch_to_device

        return self.model(batch_to_device(features, self.model.device))["sentence_embedding"]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode([self.query_prefix + t for t in texts])

    def document_texts(self, documents: list[Document]) -> list[str]:
        """Title and text joined by a space, as BEIR and MTEB feed documents to bi-encoders."""
        return [self.document_prefix + doc.contents for doc in documents]
