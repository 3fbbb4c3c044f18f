"""Help texts and choices shared by several kinds' declarations (encoders, FAISS)."""

from __future__ import annotations

from regard.indexing.faiss_index import FAISS_TYPES
from regard.models import DEFAULT_DENSE_MODEL

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DENSE_PRECISIONS = (*PRECISIONS, "int8")
RUNTIMES = ("auto", "torch", "onnx")

ENCODER_HELP = {
    "model": f"Encoder: hub name or folder (default {DEFAULT_DENSE_MODEL}).",
    "precision": "Encoding precision; auto is bf16 on CPUs with native bfloat16, fp16 on GPUs, else fp32.",
    "batch_size": "Encoding batch size.",
    "device": "Encoding device (default: cuda if available, else cpu).",
    "use_cache": "Reuse (and write) cached corpus vectors keyed by encoder and corpus fingerprint.",
    "query_prefix": 'Text put before each query, e.g. "query: " (E5); recorded in the manifest.',
    "document_prefix": 'Text put before each document, e.g. "passage: " (E5); recorded in the manifest.',
    "max_length": "Tokens per text (default: the model's own maximum).",
}
DENSE_ENCODER_HELP = {
    **ENCODER_HELP,
    "precision": "Encoding precision; auto is bf16 on CPUs with native bfloat16, fp16 on GPUs, int8 on other "
                 "CPUs when regard[onnx] is installed (else fp32); int8 (dynamic quantisation) runs on the onnx runtime.",
    "runtime": "What computes the encoder: torch, or onnx (ONNX Runtime on the CPU, fp32 or int8; needs "
               "regard[onnx]); auto is onnx for int8, else torch.",
}
FAISS_HELP = {
    "faiss_type": "FAISS index type: flat (exact inner product), hnsw, ivfpq, or pq (exhaustive scan of "
                  "product-quantised codes, 1/32 of float32).",
    "fp16": "Store vectors as float16 (flat and hnsw; refused for ivfpq and pq).",
}
ENCODER_CHOICES = {"precision": PRECISIONS, "faiss_type": FAISS_TYPES}
DENSE_ENCODER_CHOICES = {**ENCODER_CHOICES, "precision": DENSE_PRECISIONS, "runtime": RUNTIMES}
FAISS_FLAGS = {"faiss_type": "--faiss"}
