"""Long documents as overlapping token windows: chunking, the chunk-to-document map, the chunked index.

A document's contents (title and text) is tokenised once with the encoder's tokenizer; windows of
``chunk_tokens`` tokens (special tokens included) overlap by ``overlap`` tokens or a little more
(each starts at a word boundary), and each chunk is the exact span of the original text its tokens
cover. Chunks of a
document are numbered from 0 and stored contiguously, so the whole map is one offsets array:
document ``i`` owns chunks ``offsets[i]:offsets[i+1]``.

``dense-chunked`` indexes store one vector per chunk in FAISS and the documents (not the chunks) in
the docstore; `regard.retrieval.chunked.ChunkedDenseRetriever` aggregates chunk scores per document.
Any other index kind can be built over `chunk_corpus(...)` and wrapped in
`regard.retrieval.chunked.ChunkAggregation` (the route for multi-vector indexes).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regard.data.types import Document
from regard.errors import BadIndexError
from regard.indexing.docstore import DocStore, write_docstore

CHUNKS_FILE = "chunk_offsets.npy"
CHUNK_SEPARATOR = "#"
AGGREGATES = ("maxp", "firstp", "sumtop")


def chunk_id(doc_id: str, number: int) -> str:
    """The id of chunk ``number`` of ``doc_id`` (``doc#3``); `split_chunk_id` reverses it."""
    return f"{doc_id}{CHUNK_SEPARATOR}{number}"


def split_chunk_id(identifier: str) -> tuple[str, int]:
    doc_id, separator, number = identifier.rpartition(CHUNK_SEPARATOR)
    if not separator or not number.isdigit():
        raise ValueError(f"{identifier!r} is not a chunk id (DOCID{CHUNK_SEPARATOR}N)")
    return doc_id, int(number)


@dataclass(frozen=True)
class Chunker:
    """Splits texts into windows of ``chunk_tokens`` tokens overlapping by ``overlap`` tokens."""

    tokenizer: object
    chunk_tokens: int = 256
    overlap: int = 64

    def __post_init__(self):
        if self.content_tokens < 1:
            raise ValueError(f"chunk_tokens={self.chunk_tokens} leaves no room for text after special tokens")
        if not 0 <= self.overlap < self.content_tokens:
            raise ValueError(f"overlap must be in [0, {self.content_tokens}), got {self.overlap}")

    @property
    def content_tokens(self) -> int:
        """Text tokens per window: ``chunk_tokens`` less the special tokens the model adds."""
        return self.chunk_tokens - self.tokenizer.num_special_tokens_to_add(pair=False)

    def windows(self, text: str) -> list[tuple[int, int, str]]:
        """``(first token, end token, text span)`` of every window of ``text``.

        A window after the first starts ``overlap`` tokens before the previous one ends, moved back to
        the start of a word (a token preceded by a space) so that re-tokenising its text gives back
        exactly its tokens; the overlap is therefore at least ``overlap`` tokens.
        """
        spans = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                               verbose=False)["offset_mapping"]  # no warning: longer than the model is the point
        if len(spans) <= self.content_tokens:
            return [(0, len(spans), text)]
        result, start = [], 0
        while True:
            end = min(start + self.content_tokens, len(spans))
            result.append((start, end, text[spans[start][0]:spans[end - 1][1]]))
            if end == len(spans):
                return result
            following = end - self.overlap
            while following > start + 1 and spans[following][0] <= spans[following - 1][1]:
                following -= 1  # inside a word: back to its first token
            start = following

    def split(self, text: str) -> list[str]:
        """The windows of ``text`` as substrings of it (one window, possibly empty, for a short text)."""
        return [span for _, _, span in self.windows(text)]

    def identity(self) -> dict:
        return {"tokenizer": getattr(self.tokenizer, "name_or_path", type(self.tokenizer).__name__),
                "chunk_tokens": self.chunk_tokens, "overlap": self.overlap}


def chunk_documents(documents: Iterable[Document], chunker: Chunker) -> tuple[list[Document], np.ndarray]:
    """Chunks of every document (ids ``doc#n``, contiguous per document) and the offsets array."""
    chunks: list[Document] = []
    offsets = [0]
    for document in documents:
        for number, text in enumerate(chunker.split(document.contents)):
            chunks.append(Document(chunk_id(document.id, number), text))
        offsets.append(len(chunks))
    return chunks, np.asarray(offsets, dtype=np.int64)


def chunk_corpus(documents: Iterable[Document], chunker: Chunker) -> Iterator[Document]:
    """The chunks as a corpus, for building any index kind over chunks (see `ChunkAggregation`)."""
    for document in documents:
        for number, text in enumerate(chunker.split(document.contents)):
            yield Document(chunk_id(document.id, number), text)


@dataclass
class ChunkMap:
    """Which chunks belong to which document (positions follow the docstore's document order)."""

    offsets: np.ndarray  # n_documents + 1, non-decreasing, offsets[0] == 0

    @property
    def chunk_document(self) -> np.ndarray:
        """Document position of every chunk."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    @property
    def chunk_number(self) -> np.ndarray:
        """Number of every chunk within its document (0 for the first)."""
        return np.arange(int(self.offsets[-1])) - np.repeat(self.offsets[:-1], np.diff(self.offsets))

    def chunks_of(self, documents: np.ndarray) -> np.ndarray:
        """Chunk positions of the given document positions, concatenated in that order."""
        starts, ends = self.offsets[documents], self.offsets[documents + 1]
        return np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(documents) else \
            np.zeros(0, dtype=np.int64)

    def save(self, folder: Path) -> None:
        np.save(folder / CHUNKS_FILE, self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, documents: int | None = None) -> "ChunkMap":
        path = Path(folder) / CHUNKS_FILE
        if not path.exists():
            raise BadIndexError(f"{folder}: no {CHUNKS_FILE} (not a chunked index, or an incomplete one)")
        offsets = np.load(path, allow_pickle=False)
        if documents is not None and len(offsets) != documents + 1:
            raise BadIndexError(f"{path}: {len(offsets) - 1} documents, the docstore has {documents}")
        return cls(offsets)


def load_tokenizer(model: str):
    """The tokenizer of dense encoder ``model`` (for M2-BERT checkpoints, their bert-base-uncased one)."""
    from transformers import AutoTokenizer

    from regard.encoders.m2bert.loading import checkpoint_folder, is_m2bert_checkpoint
    from regard.encoders.m2bert.loading import load_tokenizer as m2bert_tokenizer
    from regard.models import resolve_model

    if is_m2bert_checkpoint(model):
        return m2bert_tokenizer(checkpoint_folder(model)[0])
    return AutoTokenizer.from_pretrained(resolve_model(model).location)


def build_dense_chunked(staging: Path, docs, fingerprint: str, model: str | None = None, chunk_tokens: int = 256,
                        overlap: int = 64, aggregate: str = "maxp", top_chunks: int = 3,
                        max_length: int | None = None, **dense_params):
    """Encode overlapping windows of every document (one vector each) and index them in FAISS.

    ``aggregate`` (maxp, firstp or sumtop, with ``top_chunks``) is the default the retriever uses;
    other ``dense_params`` are those of the dense builder (precision, faiss_type, batch_size, ...).
    """
    from regard.indexing.builders import build_dense
    from regard.models import DEFAULT_DENSE_MODEL

    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    model = model or DEFAULT_DENSE_MODEL
    chunker = Chunker(load_tokenizer(model), chunk_tokens=chunk_tokens, overlap=overlap)
    # The chunks go through a docstore of their own in the staging folder, written as the documents
    # stream past, so neither the corpus nor its chunks are ever held in memory; it is removed after.
    chunk_folder = staging / "chunks.partial"
    chunk_folder.mkdir()
    counts = array("q")
    count, _ = write_docstore(_chunk_stream(docs.batches(), chunker, counts), chunk_folder)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(counts, dtype=np.int64), out=offsets[1:])
    key = json.dumps({"corpus": fingerprint, "chunking": chunker.identity()}, sort_keys=True)
    chunk_fingerprint = hashlib.sha256(key.encode()).hexdigest()
    chunk_store = DocStore(chunk_folder)
    try:
        result = build_dense(staging, chunk_store, chunk_fingerprint, model=model,
                             max_length=max_length or chunk_tokens, **dense_params)
    finally:
        chunk_store.close()
        shutil.rmtree(chunk_folder)
    ChunkMap(offsets).save(staging)
    result.parameters.update(chunk_tokens=chunk_tokens, chunk_overlap=overlap, chunks=count,
                             aggregate=aggregate, top_chunks=top_chunks)
    return result


def _chunk_stream(batches: Iterable[list[Document]], chunker: Chunker, counts: array) -> Iterator[Document]:
    """The chunks of every document in order; ``counts`` gets each document's number of chunks."""
    for batch in batches:
        for document in batch:
            number = -1
            for number, text in enumerate(chunker.split(document.contents)):
                yield Document(chunk_id(document.id, number), text)
            counts.append(number + 1)
