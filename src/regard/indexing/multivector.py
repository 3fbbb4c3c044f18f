"""Builders of ``multivector`` (token store) and ``muvera`` (token store + FDE FAISS index) payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.indexing.builders import BuildResult, ray_encoder_mapper
from regard.indexing.docstore import DocStore
from regard.scale_out.options import RayOptions

DEFAULT_K_SIM, DEFAULT_D_PROJ, DEFAULT_R_REPS = 5, 16, 20
DEFAULT_SEED = 42


def _token_store(staging: Path, docs: DocStore, fingerprint: str, model: str | None, precision: str,
                 batch_size: int, device: str | None, document_max_length: int | None,
                 query_max_length: int | None, use_cache: bool, scale_out: RayOptions | None):
    """Encode (or reuse cached) token vectors, here or on Ray workers, and link the store into ``staging``."""
    from regard.encoders.multivector import TokenEncoder
    from regard.indexing.token_store import TokenStore, cached_token_store, link_token_store
    from regard.models import DEFAULT_DENSE_MODEL

    options = dict(model=model or DEFAULT_DENSE_MODEL, device=device, batch_size=batch_size,
                   document_max_length=document_max_length, query_max_length=query_max_length)
    encoder = TokenEncoder(precision=precision, **options)
    mapper = ray_encoder_mapper(TokenEncoder, options, encoder, "encode_documents", scale_out)
    cached = cached_token_store(encoder, list(docs), fingerprint, use_cache=use_cache, shard_mapper=mapper)
    link_token_store(cached, staging)
    store = TokenStore(staging)
    params: dict[str, Any] = {
        "token_encoder": encoder.identity.as_dict(), "dimension": store.dimension,
        "token_count": int(store.offsets[-1]), "store_dtype": "float16", "store_bytes": store.nbytes,
        "batch_size": batch_size,
    }
    return encoder, store, params


def build_multivector(staging: Path, docs: DocStore, fingerprint: str, model: str | None = None,
                      precision: str = "auto", batch_size: int = 32, device: str | None = None,
                      document_max_length: int | None = None, query_max_length: int | None = None,
                      use_cache: bool = True, scale_out: RayOptions | None = None) -> BuildResult:
    """A token store of every document, searched by exhaustive MaxSim."""
    encoder, _, params = _token_store(staging, docs, fingerprint, model, precision, batch_size, device,
                                      document_max_length, query_max_length, use_cache, scale_out)
    return BuildResult(backend="token-store", parameters=params, model=encoder.identity.model,
                       model_revision=encoder.identity.revision)


def build_muvera(staging: Path, docs: DocStore, fingerprint: str, model: str | None = None,
                 precision: str = "auto", batch_size: int = 32, device: str | None = None,
                 document_max_length: int | None = None, query_max_length: int | None = None,
                 k_sim: int = DEFAULT_K_SIM, d_proj: int | None = DEFAULT_D_PROJ, r_reps: int = DEFAULT_R_REPS,
                 final_dimension: int | None = None, seed: int = DEFAULT_SEED, fill_empty: bool = True,
                 faiss_type: str = "flat", fp16: bool = False, use_cache: bool = True,
                 scale_out: RayOptions | None = None) -> BuildResult:
    """A token store plus MUVERA document FDEs in FAISS; the FDE parameters go in the manifest."""
    from regard.encoders.muvera import FDEConfig, FDEEncoder
    from regard.indexing.faiss_index import build_faiss, check_faiss_options, save_faiss

    check_faiss_options(faiss_type, fp16)  # before the encoding, not after
    encoder, store, params = _token_store(staging, docs, fingerprint, model, precision, batch_size, device,
                                          document_max_length, query_max_length, use_cache, scale_out)
    config = FDEConfig(dimension=store.dimension, k_sim=k_sim, d_proj=d_proj, r_reps=r_reps,
                       final_dimension=final_dimension, seed=seed, fill_empty=fill_empty)
    fdes = FDEEncoder(config).encode_documents(store, progress=True)
    index, faiss_params = build_faiss(fdes, faiss_type=faiss_type, fp16=fp16)
    save_faiss(index, staging)
    params.update(fde=config.as_dict(), faiss=faiss_params,
                  fde_bytes=int(fdes.shape[0] * fdes.shape[1] * (2 if fp16 else 4)))
    return BuildResult(backend="faiss+token-store", parameters=params, model=encoder.identity.model,
                       model_revision=encoder.identity.revision)
