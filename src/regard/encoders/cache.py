"""Cache of corpus embeddings keyed by encoder identity and corpus fingerprint, built in resumable shards."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from regard.progress import progress_bar

from regard.data.types import Document
from regard.datasets import cache_root
from regard.encoders.dense import DenseEncoder
from regard.locks import target_lock
from regard.scale_out.shards import LocalShardMapper, ShardMapper

SHARD_SIZE = 1024


def cache_key(encoder: DenseEncoder, corpus_fingerprint: str) -> str:
    payload = json.dumps({"encoder": encoder.identity.as_dict(), "corpus": corpus_fingerprint}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _save_atomically(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(path.name + ".tmp.npy")
    np.save(partial, array, allow_pickle=False)
    os.replace(partial, path)


def corpus_embeddings(
    encoder: DenseEncoder,
    documents: list[Document],
    corpus_fingerprint: str,
    use_cache: bool = True,
    shard_mapper: ShardMapper | None = None,
) -> np.ndarray:
    """Embeddings of ``documents`` in order, from the cache or encoded now.

    Encoding proceeds in shards of texts sorted by length (little padding); each finished shard is
    saved, so an interrupted encode resumes where it stopped. One process at a time works on a cache
    entry: another one encoding the same corpus with the same encoder waits, then reads the result.
    ``shard_mapper`` encodes the missing shards (default: ``encoder.encode`` in this process; a Ray pool
    from ``regard.scale_out.encode`` spreads them over a cluster).
    """
    folder = cache_root() / "embeddings" / cache_key(encoder, corpus_fingerprint)
    with target_lock(folder, announce=f"waiting for another process encoding into {folder}"):
        return _cached_embeddings(encoder, documents, folder, use_cache, shard_mapper or LocalShardMapper(encoder.encode))


def _cached_embeddings(encoder: DenseEncoder, documents: list[Document], folder: Path, use_cache: bool,
                       shard_mapper: ShardMapper) -> np.ndarray:
    final = folder / "embeddings.npy"
    if use_cache and final.exists():
        vectors = np.load(final, allow_pickle=False)
        if vectors.shape == (len(documents), encoder.dimension):
            return vectors
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "encoder.json").write_text(json.dumps(encoder.identity.as_dict(), indent=2) + "\n")
    texts = encoder.document_texts(documents)
    order = np.array(sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i)), dtype=np.int64)
    vectors = np.empty((len(texts), encoder.dimension), dtype=np.float32)
    bar = progress_bar(total=len(texts), desc=f"Encoding with {encoder.resolved.name}", unit="doc")
    missing: dict[int, np.ndarray] = {}
    for shard, start in enumerate(range(0, len(order), SHARD_SIZE)):
        rows = order[start:start + SHARD_SIZE]
        path = folder / f"shard-{shard:05d}.npy"
        if use_cache and path.exists():
            vectors[rows] = np.load(path, allow_pickle=False)
            bar.update(len(rows))
        else:
            missing[shard] = rows
    todo = ((shard, [texts[i] for i in rows]) for shard, rows in missing.items())
    for shard, block in shard_mapper.map_shards(todo):
        _save_atomically(folder / f"shard-{shard:05d}.npy", block)
        vectors[missing[shard]] = block
        bar.update(len(missing[shard]))
    bar.close()
    _save_atomically(final, vectors)
    for shard_file in folder.glob("shard-*.npy"):
        shard_file.unlink()
    return vectors


def clear_embedding_cache() -> None:
    shutil.rmtree(cache_root() / "embeddings", ignore_errors=True)
