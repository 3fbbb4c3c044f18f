"""Cache of corpus embeddings keyed by encoder identity and corpus fingerprint, built in resumable shards
streamed from the docstore and written straight into a memory-mapped ``.npy`` file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Protocol

import numpy as np

from regard.data.atomic_file import write_text_atomic
from regard.data.types import Document
from regard.datasets import cache_root
from regard.encoders.dense import DenseEncoder
from regard.encoders.npy_rows import NpyRowWriter
from regard.locks import target_lock
from regard.progress import progress_bar
from regard.scale_out.shards import LocalShardMapper, ShardMapper

SHARD_SIZE = 1024
# Version of the shard layout: shards of an older layout are never mixed into a new encode.
CACHE_FORMAT = 2


def cache_key(encoder: DenseEncoder, corpus_fingerprint: str) -> str:
    payload = json.dumps({"encoder": encoder.identity.as_dict(), "corpus": corpus_fingerprint,
                          "format": CACHE_FORMAT}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _save_atomically(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(path.name + ".tmp.npy")
    np.save(partial, array, allow_pickle=False)
    os.replace(partial, path)


class DocumentSource(Protocol):
    """What encoding reads from a corpus: its size, text lengths, and documents by position (a DocStore)."""

    def __len__(self) -> int: ...

    def content_lengths(self) -> np.ndarray: ...

    def documents_at(self, positions) -> list[Document]: ...


def corpus_embeddings(
    encoder: DenseEncoder,
    documents: DocumentSource,
    corpus_fingerprint: str,
    use_cache: bool = True,
    shard_mapper: ShardMapper | None = None,
) -> np.ndarray:
    """Embeddings of ``documents`` in position order, memory-mapped from the cache (encoded first if missing).

    Documents are read from the source a shard at a time, in order of length (little padding); each
    finished shard is saved, so an interrupted encode resumes where it stopped, and rows go straight
    into the cache's ``.npy`` file: memory holds one shard, never the corpus or its vectors. One
    process at a time works on a cache entry: another one encoding the same corpus waits, then reads.
    ``shard_mapper`` encodes the missing shards (default: ``encoder.encode`` in this process; a Ray pool
    from ``regard.scale_out.encode`` spreads them over a cluster, texts travelling through Ray).
    """
    folder = cache_root() / "embeddings" / cache_key(encoder, corpus_fingerprint)
    with target_lock(folder, announce=f"waiting for another process encoding into {folder}"):
        return _cached_embeddings(encoder, documents, folder, use_cache, shard_mapper or LocalShardMapper(encoder.encode))


def shard_plan(documents: DocumentSource, shard_size: int | None = None) -> list[np.ndarray]:
    """Positions of each shard: longest documents first (ties by position), ``shard_size`` per shard."""
    shard_size = shard_size or SHARD_SIZE
    lengths = documents.content_lengths()
    order = np.lexsort((np.arange(len(lengths)), -lengths))
    return [order[start:start + shard_size] for start in range(0, len(order), shard_size)]


def _cached_embeddings(encoder: DenseEncoder, documents: DocumentSource, folder: Path, use_cache: bool,
                       shard_mapper: ShardMapper) -> np.ndarray:
    final = folder / "embeddings.npy"
    if use_cache and final.exists():
        vectors = np.load(final, mmap_mode="r", allow_pickle=False)
        if vectors.shape == (len(documents), encoder.dimension):
            return vectors
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "encoder.json", json.dumps(encoder.identity.as_dict(), indent=2) + "\n")
    partial = folder / "embeddings.partial.npy"
    writer = NpyRowWriter(partial, len(documents), encoder.dimension)
    bar = progress_bar(total=len(documents), desc=f"Encoding with {encoder.resolved.name}", unit="doc")
    missing: dict[int, np.ndarray] = {}
    for shard, rows in enumerate(shard_plan(documents)):
        path = folder / f"shard-{shard:05d}.npy"
        if use_cache and path.exists():
            writer.write(rows, np.load(path, allow_pickle=False))
            bar.update(len(rows))
        else:
            missing[shard] = rows
    # Texts are read from the store as the mapper pulls them (it keeps a bounded number in flight).
    todo = ((shard, encoder.document_texts(documents.documents_at(rows))) for shard, rows in missing.items())
    for shard, block in shard_mapper.map_shards(todo):
        _save_atomically(folder / f"shard-{shard:05d}.npy", block)
        writer.write(missing[shard], block)
        bar.update(len(missing[shard]))
    bar.close()
    writer.close()
    os.replace(partial, final)
    for shard_file in folder.glob("shard-*.npy"):
        shard_file.unlink()
    return np.load(final, mmap_mode="r", allow_pickle=False)


def clear_embedding_cache() -> None:
    shutil.rmtree(cache_root() / "embeddings", ignore_errors=True)
