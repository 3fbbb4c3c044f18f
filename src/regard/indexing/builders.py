"""Builders of the BM25 and dense payloads, and what every builder reports; each reads the docstore and
writes into the staging folder. The other kinds' builders live beside their payloads (multivector.py,
chunks.py, ngram.py); ``regard.kinds`` declares which builder makes which kind."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from regard.indexing.docstore import DocStore
from regard.scale_out.options import RayOptions


def ray_encoder_mapper(factory: Callable[..., Any], options: dict[str, Any], encoder: Any, method: str,
                       scale_out: RayOptions | None):
    """The Ray shard mapper for encoders ``factory(**options)`` like the driver's ``encoder``, or None (local).

    Workers get the driver's resolved precision (and runtime), so their vectors carry the identity the cache is
    keyed by.
    """
    if scale_out is None:
        return None
    from regard.scale_out.encode import EncoderSpec, RayEncoderMapper

    resolved = {"precision": encoder.precision}
    if getattr(encoder, "runtime", None):  # DenseEncoder: workers run what the driver resolved (torch or onnx)
        resolved["runtime"] = encoder.runtime
    spec = EncoderSpec(factory, {**options, **resolved}, method)
    return RayEncoderMapper(spec, scale_out, expected_identity=encoder.identity)


@dataclass
class BuildResult:
    """What a builder reports for the manifest."""

    backend: str
    parameters: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    model_revision: str | None = None


def build_bm25(staging: Path, docs: DocStore, fingerprint: str, backend: str = "lucene",
               k1: float = 0.9, b: float = 0.4, threads: int = 1) -> BuildResult:
    """BM25 with Lucene (pyserini) or bm25s; k1 and b are the search defaults recorded for this index.

    ``threads``: Lucene indexing threads (search results do not depend on it); bm25s uses one.
    """
    if backend == "lucene":
        from regard.indexing.lucene import LUCENE_DIR, build_lucene_index

        shutil.rmtree(staging / LUCENE_DIR, ignore_errors=True)
        build_lucene_index(iter(docs), staging, total=len(docs), threads=threads)
        params = {"analyzer": "anserini-default-english (porter, stopwords)", "field": "title + text"}
    elif backend == "bm25s":
        from regard.indexing.bm25s_backend import BM25S_DIR, build_bm25s_index

        shutil.rmtree(staging / BM25S_DIR, ignore_errors=True)
        build_bm25s_index(iter(docs), staging, k1=k1, b=b)
        params = {"tokenizer": "bm25s (lower, english stopwords, snowball english)", "method": "lucene"}
    else:
        raise ValueError(f"unknown BM25 backend {backend!r}; expected 'lucene' or 'bm25s'")
    return BuildResult(backend=backend, parameters={"k1": k1, "b": b, **params})


def build_dense(staging: Path, docs: DocStore, fingerprint: str, model: str | None = None,
                faiss_type: str = "flat", fp16: bool = False, batch_size: int = 64,
                precision: str = "auto", device: str | None = None, max_length: int | None = None,
                query_prefix: str = "", document_prefix: str = "", use_cache: bool = True,
                scale_out: RayOptions | None = None, runtime: str = "auto") -> BuildResult:
    """Encode every document (in this process, or on Ray workers with ``scale_out``) and index the vectors in FAISS."""
    from regard.encoders.cache import corpus_embeddings
    from regard.encoders.select import dense_encoder
    from regard.indexing.faiss_index import build_faiss, check_faiss_options, save_faiss
    from regard.models import DEFAULT_DENSE_MODEL

    check_faiss_options(faiss_type, fp16)  # before the encoding, not after
    options = dict(model=model or DEFAULT_DENSE_MODEL, device=device, batch_size=batch_size, max_length=max_length,
                   query_prefix=query_prefix, document_prefix=document_prefix, runtime=runtime)
    encoder = dense_encoder(precision=precision, **options)
    mapper = ray_encoder_mapper(dense_encoder, options, encoder, "encode", scale_out)
    vectors = corpus_embeddings(encoder, docs, fingerprint, use_cache=use_cache, shard_mapper=mapper)  # memory-mapped
    index, params = build_faiss(vectors, faiss_type=faiss_type, fp16=fp16)
    save_faiss(index, staging)
    identity = encoder.identity
    params.update(
        precision=identity.precision, max_length=identity.max_length, normalize=identity.normalize,
        query_prefix=query_prefix, document_prefix=document_prefix, batch_size=batch_size,
    )
    if identity.as_dict().get("runtime"):  # recorded only where it is not torch (older manifests lack it)
        params["runtime"] = identity.runtime
    return BuildResult(backend="faiss", parameters=params, model=identity.model, model_revision=identity.revision)
