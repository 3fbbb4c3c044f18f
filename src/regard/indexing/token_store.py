"""The token store: every document's token vectors in one memory-mapped float16 matrix with offsets.

Document ``i`` owns rows ``offsets[i]:offsets[i+1]`` of ``tokens.npy``; no Python object per token.
Corpus token vectors are cached (keyed by the token encoder's identity and the corpus fingerprint,
like ``encoders/cache.py``) and encoded in resumable shards; an index links the cached files into its
folder (a hard link where the file system allows, else a copy).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from regard.progress import progress_bar

from regard.datasets import cache_root
from regard.encoders.multivector import RaggedVectors, TokenEncoder
from regard.errors import BadIndexError
from regard.indexing.docstore import DocStore
from regard.locks import target_lock
from regard.scale_out.shards import LocalShardMapper, ShardMapper

TOKENS_FILE = "tokens.npy"
OFFSETS_FILE = "token_offsets.npy"
SHARD_SIZE = 512
STORE_DTYPE = np.float16


class TokenStore(RaggedVectors):
    """Read-only, memory-mapped token vectors of an index (float16), one group per document."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        tokens, offsets = self.folder / TOKENS_FILE, self.folder / OFFSETS_FILE
        if not tokens.is_file() or not offsets.is_file():
            raise BadIndexError(f"{self.folder}: token store missing ({TOKENS_FILE}, {OFFSETS_FILE})")
        try:
            vectors = np.load(tokens, mmap_mode="r", allow_pickle=False)
            offsets_array = np.load(offsets, allow_pickle=False)
            super().__init__(vectors, offsets_array)
        except ValueError as err:
            raise BadIndexError(f"{self.folder}: damaged token store ({err})") from None
        if vectors.dtype != STORE_DTYPE:
            raise BadIndexError(f"{self.folder}: token store is {vectors.dtype}, expected float16")

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.offsets.nbytes)

    def groups(self, positions: np.ndarray, dtype=np.float32) -> RaggedVectors:
        """The token vectors (as ``dtype``) of the documents at ``positions``, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        starts, ends = self.offsets[positions], self.offsets[positions + 1]
        parts = [self.vectors[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
        offsets = np.zeros(len(positions) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(ends - starts)
        vectors = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros((0, self.dimension), dtype)
        return RaggedVectors(vectors.reshape(-1, self.dimension), offsets)


def write_token_store(folder: Path, shards: list[Path]) -> None:
    """Concatenate shard files (in order) into ``folder/tokens.npy`` and ``token_offsets.npy``.

    Shards are read one at a time, so memory holds one shard, never the whole corpus.
    """
    lengths, dimension = [], 0
    for path in shards:
        with np.load(path, allow_pickle=False) as data:
            lengths.append(np.diff(data["offsets"]))
    if shards:
        dimension = _load_shard(shards[0]).dimension
    offsets = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
    if lengths:
        offsets[1:] = np.cumsum(np.concatenate(lengths))
    partial = folder / (TOKENS_FILE + ".tmp")
    matrix = np.lib.format.open_memmap(partial, mode="w+", dtype=STORE_DTYPE,
                                       shape=(int(offsets[-1]), dimension))
    row = 0
    for path in shards:
        shard = _load_shard(path)
        matrix[row:row + len(shard.vectors)] = shard.vectors
        row += len(shard.vectors)
    matrix.flush()
    del matrix
    np.save(folder / OFFSETS_FILE, offsets, allow_pickle=False)
    os.replace(partial, folder / TOKENS_FILE)


def store_cache_key(encoder: TokenEncoder, corpus_fingerprint: str) -> str:
    payload = json.dumps({"token_encoder": encoder.identity.as_dict(), "corpus": corpus_fingerprint}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _save_shard(path: Path, shard: RaggedVectors) -> None:
    partial = path.with_name(path.name + ".tmp.npz")
    np.savez(partial, vectors=shard.vectors.astype(STORE_DTYPE), offsets=shard.offsets)
    os.replace(partial, path)


def _load_shard(path: Path) -> RaggedVectors:
    with np.load(path, allow_pickle=False) as data:
        return RaggedVectors(data["vectors"], data["offsets"])


def _shard_count(path: Path) -> int:
    try:
        with np.load(path, allow_pickle=False) as data:
            return len(data["offsets"]) - 1
    except (OSError, ValueError, KeyError):
        return -1


def cached_token_store(encoder: TokenEncoder, documents: DocStore, corpus_fingerprint: str,
                       use_cache: bool = True, shard_mapper: ShardMapper | None = None) -> Path:
    """The folder of the cached token store of ``documents``, encoding what is not cached yet.

    Encoding proceeds in shards of documents in index order (sorted by length inside the encoder);
    each finished shard is saved, so an interrupted encode resumes where it stopped. One process at a
    time works on a cache entry; another one waits, then reads the result. ``shard_mapper`` encodes
    the missing shards (default: ``encoder.encode_documents`` in this process; a Ray pool from
    ``regard.scale_out.encode`` spreads them over a cluster).
    """
    folder = cache_root() / "token_vectors" / store_cache_key(encoder, corpus_fingerprint)
    with target_lock(folder, announce=f"waiting for another process encoding into {folder}"):
        mapper = shard_mapper or LocalShardMapper(encoder.encode_documents)
        return _cached_token_store(encoder, documents, folder, use_cache, mapper)


def _cached_token_store(encoder: TokenEncoder, documents: DocStore, folder: Path, use_cache: bool,
                        shard_mapper: ShardMapper) -> Path:
    if use_cache and (folder / TOKENS_FILE).is_file() and (folder / OFFSETS_FILE).is_file():
        try:
            store = TokenStore(folder)
            if len(store) == len(documents) and store.dimension == encoder.dimension:
                return folder
        except BadIndexError:
            pass
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "encoder.json").write_text(json.dumps(encoder.identity.as_dict(), indent=2) + "\n")
    count = len(documents)
    shards: list[Path] = []
    missing: dict[int, int] = {}
    bar = progress_bar(total=count, desc=f"Encoding tokens with {encoder.resolved.name}", unit="doc")
    for number, start in enumerate(range(0, count, SHARD_SIZE)):
        path = folder / f"shard-{number:05d}.npz"
        if use_cache and path.exists() and _shard_count(path) == min(SHARD_SIZE, count - start):
            bar.update(min(SHARD_SIZE, count - start))
        else:
            missing[number] = start
        shards.append(path)
    # Texts are read from the store as the mapper pulls them (it keeps a bounded number in flight).
    todo = ((number, encoder.document_texts(documents.between(start, start + SHARD_SIZE)))
            for number, start in missing.items())
    for number, encoded in shard_mapper.map_shards(todo):
        _save_shard(shards[number], encoded)
        bar.update(len(encoded))
    bar.close()
    write_token_store(folder, shards)
    for shard_file in folder.glob("shard-*.npz"):
        shard_file.unlink()
    return folder


def link_token_store(source: Path, target: Path) -> None:
    """Put the store files of ``source`` into ``target``: hard links where possible, else copies."""
    for name in (TOKENS_FILE, OFFSETS_FILE):
        destination = target / name
        destination.unlink(missing_ok=True)
        try:
            os.link(source / name, destination)
        except OSError:
            shutil.copyfile(source / name, destination)


def clear_token_cache() -> None:
    shutil.rmtree(cache_root() / "token_vectors", ignore_errors=True)
