"""Scoring (query, document) text pairs with a sequence-classification model: the model a cross-encoder
reranker (``regard.rerank.cross_encoder``), cross-encoder training and DSE distillation share."""

from __future__ import annotations

from collections.abc import Sequence as Seq
import numpy as np

from regard.encoders.dense import effective_precision, effective_runtime
from regard.models import autocast, choose_device, loading_model, resolve_model
from regard.progress import progress_bar

DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L-6-v2"
MAX_LENGTH_CAP = 512


class PairScorer:
    """Scores (query, document) text pairs with a sequence-classification checkpoint.

    Pairs are batched in order of length so padding stays small, and truncated to the model's maximum
    (document side first). One output logit is the score; with two labels, the logit difference.
    ``session`` (an ONNX Runtime session of the model's export, see :meth:`load`) computes the logits
    instead of ``model``.
    """

    def __init__(self, model, tokenizer, *, name: str, revision: str | None = None, device: str = "cpu",
                 precision: str = "fp32", batch_size: int = 32, max_length: int | None = None, session=None):
        self.model, self.tokenizer = model, tokenizer
        self.name, self.revision = name, revision
        self.device, self.precision, self.batch_size = device, precision, batch_size
        self.session = session
        limit = min(int(tokenizer.model_max_length or MAX_LENGTH_CAP), MAX_LENGTH_CAP,
                    int(getattr(model.config, "max_position_embeddings", MAX_LENGTH_CAP)))
        self.max_length = min(max_length, limit) if max_length else limit

    @property
    def runtime(self) -> str:
        return "onnx" if self.session is not None else "torch"

    @classmethod
    def load(cls, model: str = DEFAULT_CROSS_ENCODER, *, device: str | None = None, precision: str = "auto",
             batch_size: int = 32, max_length: int | None = None, trust_remote_code: bool = False,
             runtime: str = "auto") -> "PairScorer":
        """Load a checkpoint by hub name or path (resolved offline first, see regard.models).

        ``runtime``: ``torch``, ``onnx`` (ONNX Runtime on the CPU, fp32 or int8; needs the ``onnx`` extra) or
        ``auto`` (torch; onnx for int8, see ``effective_runtime``).
        """
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        resolved = resolve_model(model)
        device = choose_device(device)
        precision = "int8" if precision == "int8" else effective_precision(precision, device)
        runtime = effective_runtime(runtime, precision, device)
        with loading_model(resolved):
            tokenizer = AutoTokenizer.from_pretrained(resolved.location, trust_remote_code=trust_remote_code)
            network = AutoModelForSequenceClassification.from_pretrained(
                resolved.location, trust_remote_code=trust_remote_code
            ).to(device).eval()
        session = None
        if runtime == "onnx":
            from regard.encoders.onnx_runtime import cached_export, onnx_session

            probe = tokenizer(["a"], ["b"])
            inputs = tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in probe)
            session = onnx_session(cached_export(network, name=resolved.name, location=resolved.location,
                                                 revision=resolved.revision, inputs=inputs, output="logits",
                                                 int8=precision == "int8"))
        return cls(network, tokenizer, name=resolved.name, revision=resolved.revision, device=device,
                   precision=precision, batch_size=batch_size, max_length=max_length, session=session)

    @property
    def identity(self) -> str:
        """What determines the scores: model, revision, precision, truncation length (and the onnx runtime)."""
        suffix = ":onnx" if self.session is not None else ""  # torch identities (and score caches) as before
        return f"{self.name}@{self.revision or '-'}:{self.precision}:{self.max_length}{suffix}"

    def score(self, queries: Seq[str], documents: Seq[str], progress: bool = False) -> np.ndarray:
        """Relevance scores of ``queries[i]`` with ``documents[i]``, as a float32 array."""
        import torch

        if len(queries) != len(documents):
            raise ValueError(f"{len(queries)} queries but {len(documents)} documents")
        scores = np.empty(len(queries), dtype=np.float32)
        order = sorted(range(len(queries)), key=lambda i: -(len(queries[i]) + len(documents[i])))
        bar = progress_bar(total=len(order), desc="Cross-encoder scoring", unit="pair", disable=not progress)
        precision = "fp32" if self.session is not None else self.precision
        with torch.inference_mode(), autocast(self.device, precision):
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                batch = self.tokenizer(
                    [queries[i] for i in rows], [documents[i] for i in rows], padding=True,
                    truncation="longest_first", max_length=self.max_length, return_tensors="pt",
                )
                logits = self._logits(batch)
                values = logits[:, 0] if logits.shape[1] == 1 else logits[:, -1] - logits[:, 0]
                scores[rows] = values
                bar.update(len(rows))
        bar.close()
        return scores


    def _logits(self, batch) -> np.ndarray:
        """Float32 logits of one tokenised batch, from the ONNX session or the torch model."""
        if self.session is not None:
            feed = {i.name: batch[i.name].numpy().astype(np.int64) for i in self.session.get_inputs()}
            return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)
        return self.model(**batch.to(self.device)).logits.float().cpu().numpy()
