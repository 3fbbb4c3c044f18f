"""The token store: every document's token vectors in one memory-mapped matrix with offsets.

Document ``i`` owns rows ``offsets[i]:offsets[i+1]`` of ``tokens.npy``; no Python object per token.
Two formats (:data:`STORE_FORMATS`), told apart by the dtype of ``tokens.npy``:

- ``float16`` (the default): the vectors as encoded, rounded to float16 (2 bytes a dimension);
- ``int8``: each token vector quantised symmetrically with its own scale, ``round(x / s)`` with
  ``s = max|x| / 127``, the scales in ``token_scales.npy`` (float32): 1 byte a dimension plus 4 a token,
  about half the float16 store. A scale per token, rather than per dimension, needs no pass over the
  corpus before quantising and gave the smaller MaxSim error on MiniLM tokens (whose largest
  dimension reaches 0.83 while the median dimension's maximum is 0.21).

Corpus token vectors are cached in float16 (keyed by the token encoder's identity and the corpus
fingerprint, like ``encoders/cache.py``) and encoded in resumable shards; a float16 index links the
cached files into its folder (a hard link where the file system allows, else a copy), an int8 index
quantises them into its folder a block of rows at a time.
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
SCALES_FILE = "token_scales.npy"
SHARD_SIZE = 512
STORE_DTYPE = np.float16
STORE_FORMATS = ("float16", "int8")
QUANTISE_ROWS = 65536  # token vectors quantised per block when an int8 store is written
_INT8_MAX = 127


class TokenStore(RaggedVectors):
    """Read-only, memory-mapped token vectors of an index, one group per document.

    ``format`` is ``float16`` or ``int8`` (read from the file; an int8 store carries ``scales``).
    Indexes built before int8 stores existed are float16 and open unchanged.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        tokens, offsets = self.folder / TOKENS_FILE, self.folder / OFFSETS_FILE
        if not tokens.is_file() or not offsets.is_file():
            raise BadIndexError(f"{self.folder}: token store missing ({TOKENS_FILE}, {OFFSETS_FILE})")
        try:
            vectors = np.load(tokens, mmap_mode="r", allow_pickle=False)
            offsets_array = np.load(offsets, allow_pickle=False)
            scales = None
            if vectors.dtype == np.int8:
                if not (self.folder / SCALES_FILE).is_file():
                    raise BadIndexError(f"{self.folder}: int8 token store without its scales ({SCALES_FILE})")
                scales = np.load(self.folder / SCALES_FILE, mmap_mode="r", allow_pickle=False)
            super().__init__(vectors, offsets_array, scales)
        except ValueError as err:
            raise BadIndexError(f"{self.folder}: damaged token store ({err})") from None
        if vectors.dtype not in (STORE_DTYPE, np.int8):
            raise BadIndexError(f"{self.folder}: token store is {vectors.dtype}, expected float16 or int8")

    @property
    def format(self) -> str:
        """``float16`` or ``int8``."""
        return "int8" if self.scales is not None else "float16"

    @property
    def nbytes(self) -> int:
        scales = 0 if self.scales is None else self.scales.nbytes
        return int(self.vectors.nbytes + self.offsets.nbytes + scales)

    def gather(self, positions: np.ndarray) -> RaggedVectors:
        """The stored token vectors (float16, or int8 with scales) of the documents at ``positions``, in order.

        One copy of just those rows; nothing is converted or dequantised (MaxSim does that per block).
        """
        positions = np.asarray(positions, dtype=np.int64)
        starts, ends = self.offsets[positions], self.offsets[positions + 1]
        offsets = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        parts = [self.vectors[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.dimension), self.vectors.dtype)
        scales = None
        if self.scales is not None:
            scales = (np.concatenate([self.scales[s:e] for s, e in zip(starts.tolist(), ends.tolist())])
                      if parts else np.zeros(0, np.float32))
        return RaggedVectors(vectors.reshape(-1, self.dimension), offsets, scales)

    def groups(self, positions: np.ndarray, dtype=np.float32) -> RaggedVectors:
        """The real token vectors (as ``dtype``, dequantised) of the documents at ``positions``, in that order."""
        gathered = self.gather(positions)
        return RaggedVectors(gathered.rows(0, len(gathered.vectors), dtype), gathered.offsets)


def quantise_int8(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 codes and float32 scales of each row: ``row ≈ codes * scale``, ``scale = max|row| / 127``.

    An all-zero row gets scale 0 (and codes 0).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1) / _INT8_MAX if len(vectors) else np.zeros(0, np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.rint(vectors / safe[:, None])
    np.clip(codes, -_INT8_MAX, _INT8_MAX, out=codes)
    return codes.astype(np.int8), scales.astype(np.float32)


def write_int8_store(source: Path, target: Path, block_rows: int = QUANTISE_ROWS) -> None:
    """Quantise the float16 store in ``source`` into an int8 store in ``target`` (codes, scales, offsets).

    Rows are read from the memory-mapped source and written to memory-mapped outputs ``block_rows`` at
    a time, so memory holds one block; the files appear under their final names only when complete.
    """
    store = TokenStore(source)
    if store.format != "float16":
        raise BadIndexError(f"{source}: expected a float16 token store to quantise, found {store.format}")
    count = len(store.vectors)
    partial_codes, partial_scales = target / (TOKENS_FILE + ".tmp"), target / (SCALES_FILE + ".tmp")
    codes = np.lib.format.open_memmap(partial_codes, mode="w+", dtype=np.int8, shape=(count, store.dimension))
    scales = np.lib.format.open_memmap(partial_scales, mode="w+", dtype=np.float32, shape=(count,))
    for start in range(0, count, block_rows):
        codes[start:start + block_rows], scales[start:start + block_rows] = quantise_int8(
            store.vectors[start:start + block_rows])
    codes.flush()
    scales.flush()
    del codes, scales
    for name in (TOKENS_FILE, SCALES_FILE, OFFSETS_FILE):
        (target / name).unlink(missing_ok=True)
    shutil.copyfile(source / OFFSETS_FILE, target / (OFFSETS_FILE + ".tmp"))
    os.replace(target / (OFFSETS_FILE + ".tmp"), target / OFFSETS_FILE)
    os.replace(partial_scales, target / SCALES_FILE)
    os.replace(partial_codes, target / TOKENS_FILE)


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
