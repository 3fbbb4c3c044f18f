"""Builders of ``multivector`` (token store) and ``muvera`` (token store + FDE FAISS index) payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regard.errors import RegardError
from regard.indexing.builders import BuildResult, ray_encoder_mapper
from regard.indexing.docstore import DocStore
from regard.progress import progress_bar
from regard.scale_out.options import RayOptions

DEFAULT_K_SIM, DEFAULT_D_PROJ, DEFAULT_R_REPS = 5, 16, 20
DEFAULT_SEED = 42


def _token_store(staging: Path, docs: DocStore, fingerprint: str, model: str | None, precision: str,
                 batch_size: int, device: str | None, document_max_length: int | None,
                 query_max_length: int | None, use_cache: bool, scale_out: RayOptions | None,
                 token_store: str = "float16"):
    """Encode (or reuse cached) token vectors, here or on Ray workers, and put the store into ``staging``.

    The cache holds float16 vectors; ``token_store="int8"`` quantises them into ``staging`` block by block.
    Returns the encoder, the cached float16 store (what FDEs are computed from, whatever the index
    keeps) and the manifest parameters.
    """
    from regard.encoders.multivector import TokenEncoder
    from regard.indexing.token_store import (
        STORE_FORMATS, TokenStore, cached_token_store, link_token_store, write_int8_store,
    )
    from regard.models import DEFAULT_DENSE_MODEL

    if token_store not in STORE_FORMATS:  # before the encoding, not after
        raise RegardError(f"token_store must be one of {', '.join(STORE_FORMATS)}, got {token_store!r}")
    options = dict(model=model or DEFAULT_DENSE_MODEL, device=device, batch_size=batch_size,
                   document_max_length=document_max_length, query_max_length=query_max_length)
    encoder = TokenEncoder(precision=precision, **options)
    mapper = ray_encoder_mapper(TokenEncoder, options, encoder, "encode_documents", scale_out)
    cached = cached_token_store(encoder, docs, fingerprint, use_cache=use_cache, shard_mapper=mapper)
    if token_store == "int8":
        write_int8_store(cached, staging)
    else:
        link_token_store(cached, staging)
    store = TokenStore(staging)
    params: dict[str, Any] = {
        "token_encoder": encoder.identity.as_dict(), "dimension": store.dimension,
        "token_count": int(store.offsets[-1]), "store_dtype": store.format, "store_bytes": store.nbytes,
        "batch_size": batch_size,
    }
    return encoder, TokenStore(cached), params


def build_multivector(staging: Path, docs: DocStore, fingerprint: str, model: str | None = None,
                      precision: str = "auto", batch_size: int = 32, device: str | None = None,
                      document_max_length: int | None = None, query_max_length: int | None = None,
                      token_store: str = "float16", use_cache: bool = True,
                      scale_out: RayOptions | None = None) -> BuildResult:
    """A token store of every document (``token_store``: float16 or int8), searched by exhaustive MaxSim."""
    encoder, _, params = _token_store(staging, docs, fingerprint, model, precision, batch_size, device,
                                      document_max_length, query_max_length, use_cache, scale_out, token_store)
    return BuildResult(backend="token-store", parameters=params, model=encoder.identity.model,
                       model_revision=encoder.identity.revision)


def build_muvera(staging: Path, docs: DocStore, fingerprint: str, model: str | None = None,
                 precision: str = "auto", batch_size: int = 32, device: str | None = None,
                 document_max_length: int | None = None, query_max_length: int | None = None,
                 k_sim: int = DEFAULT_K_SIM, d_proj: int | None = DEFAULT_D_PROJ, r_reps: int = DEFAULT_R_REPS,
                 final_dimension: int | None = None, seed: int = DEFAULT_SEED, fill_empty: bool = True,
                 faiss_type: str = "flat", fp16: bool = False, fde_pq: bool = False,
                 token_store: str = "float16", use_cache: bool = True,
                 scale_out: RayOptions | None = None) -> BuildResult:
    """A token store plus MUVERA document FDEs in FAISS; the FDE parameters go in the manifest.

    FDEs are computed a batch of documents at a time as FAISS adds them (and for a training sample),
    never as one matrix. ``fde_pq`` stores them product-quantised (FAISS ``pq``: 1/32 of float32, as
    the paper compresses them) instead of in a flat float32 index. ``token_store="int8"`` keeps the
    rerank's token vectors quantised (half the bytes); the FDEs are computed from the float16 vectors
    either way, so int8 changes the rerank's scores, not the candidates.
    """
    from regard.encoders.muvera import FDEConfig, FDEEncoder
    from regard.indexing.faiss_index import build_faiss, check_faiss_options, save_faiss

    if fde_pq:
        if faiss_type != "flat":
            raise RegardError(f"fde_pq stores FDEs in a product-quantised flat scan; it does not combine with "
                              f"faiss_type={faiss_type!r}")
        faiss_type = "pq"
    check_faiss_options(faiss_type, fp16)  # before the encoding, not after
    encoder, store, params = _token_store(staging, docs, fingerprint, model, precision, batch_size, device,
                                          document_max_length, query_max_length, use_cache, scale_out,
                                          token_store)
    config = FDEConfig(dimension=store.dimension, k_sim=k_sim, d_proj=d_proj or None, r_reps=r_reps,
                       final_dimension=final_dimension, seed=seed, fill_empty=fill_empty)
    fdes = DocumentFDEs(store, FDEEncoder(config))
    index, faiss_params = build_faiss(fdes, faiss_type=faiss_type, fp16=fp16)
    save_faiss(index, staging)
    bytes_per_value = {"pq": 1 / 32 * 4, "ivfpq": 1 / 32 * 4}.get(faiss_type, 2 if fp16 else 4)
    params.update(fde=config.as_dict(), faiss=faiss_params, fde_pq=fde_pq,
                  fde_bytes=int(fdes.shape[0] * fdes.shape[1] * bytes_per_value))
    return BuildResult(backend="faiss+token-store", parameters=params, model=encoder.identity.model,
                       model_revision=encoder.identity.revision)


class DocumentFDEs:
    """The document FDEs of a token store as a matrix-like object: rows are computed when sliced.

    FAISS reads it in batches (and a random sample to train on), so the whole FDE matrix (40 KB a
    document at the paper's 10,240 dimensions) never exists; a progress bar counts the rows added.
    """

    def __init__(self, store, encoder):
        self.store, self.encoder = store, encoder
        self.shape = (len(store), encoder.config.output_dimension)
        self._bar = None

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            positions = np.arange(*rows.indices(self.shape[0]))
            if self._bar is None:
                self._bar = progress_bar(total=self.shape[0], desc="Encoding FDEs", unit="doc")
            self._bar.update(len(positions))
            if self._bar.n >= self.shape[0]:
                self._bar.close()
        else:
            positions = np.asarray(rows, dtype=np.int64)
        return self.encoder.encode_documents(self.store.groups(positions))
