"""The n-gram index of generative retrieval (SEAL): a suffix array over the corpus as token ids.

The corpus is the documents in index order, each lower-cased ``" " + title + " " + text`` tokenized
with the language model's tokenizer (no special tokens), joined by :data:`SEPARATOR` (``-1``, an id
no tokenizer emits, so no n-gram crosses two documents) and ended by one. The suffix array (built by
``pydivsufsort``) sorts every position by the token sequence starting there, so the occurrences of
any n-gram are one contiguous range of it. From that range come:

- ``count(ngram)``: how often the n-gram occurs (the range's length);
- ``locate(ngram)`` / ``documents(ngram)``: its positions, and the documents holding them through
  the ``offsets`` array (document ``i`` owns tokens ``offsets[i]:offsets[i+1]``, separator included);
- ``continuations(ngram)``: the distinct tokens that follow its occurrences, with their counts and
  sub-ranges; this is what constrained decoding asks at every step.

This is the uncompressed form of an FM-index (a suffix array plus the text, rather than a wavelet-tree
BWT): it stores ``8 N`` bytes for ``N`` tokens and is opened memory-mapped from ``.npy`` files (no
pickle, no copy). ``range`` and ``count`` are two binary searches per n-gram token over the suffix
array (``O(m log N)`` reads of single entries, never the occurrences); ``locate`` reads at most the
occurrences asked for; ``continuations`` of a frequent n-gram reads the next token at evenly spaced
suffixes and descends only into the stretches where it changes, so its work grows with the number of
distinct continuations, not with the n-gram's frequency. The first-token table (every token's range,
known from token counts alone) is stored as ``first.npy``.

Building (:func:`write_fmindex`) streams: token ids are appended to ``tokens.npy`` as documents come;
only the suffix sort needs the corpus in RAM, as ``pydivsufsort`` sorts bytes: the tokens as 2-byte
(4-byte for vocabularies past 65,535) big-endian codes plus the byte-level suffix array (4 bytes per
byte, 8 past 2^31 bytes), about ``10 N`` bytes for ``N`` tokens, which is this kind's RAM payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regard.errors import BadIndexError, RegardError
from regard.indexing.npy_append import NpyAppender

SEPARATOR = -1
NGRAM_DIR = "ngram"
_FILES = ("tokens.npy", "suffixes.npy", "offsets.npy")
_FIRST = "first.npy"  # (token, lo, hi) per first token; optional: computed from the tokens when absent
_META = "fmindex.json"
FORMAT_VERSION = 1
_MAX_TOKEN = 2**31 - 1
_GATHER = 4096  # ranges up to this size are read whole (one vectorised gather)
_FANOUT = 1024  # larger ranges are probed at this many evenly spaced suffixes
_CHUNK = 1 << 22  # tokens per step of the chunked passes at build time
_DOCUMENT_BATCH = 1024  # documents appended (and counted) at a time


def document_text(title: str, text: str) -> str:
    """The text a document contributes to the index: lower-cased, with a leading space.

    The leading space gives the first word the same (word-initial) token as every other word in
    byte-level BPE vocabularies; WordPiece tokenizers ignore it.
    """
    return f" {title} {text}".lower() if title else f" {text}".lower()


@dataclass(frozen=True)
class Continuations:
    """The distinct tokens following an n-gram: ``tokens[i]`` occurs ``counts[i]`` times there.

    ``ranges[i]`` is the suffix-array range of the n-gram extended by ``tokens[i]``.
    """

    tokens: np.ndarray
    counts: np.ndarray
    ranges: np.ndarray  # shape (k, 2): [lo, hi) per token

    def __len__(self) -> int:
        return len(self.tokens)


def _checked(ids: Sequence[int], position: int) -> np.ndarray:
    array = np.asarray(ids, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() >= _MAX_TOKEN):
        raise RegardError(f"document {position}: token ids must lie in [0, 2^31 - 1)")
    return array.astype(np.int32)


def _first_table(token_counts: np.ndarray, documents: int) -> np.ndarray:
    """Every first token's suffix-array range, from token counts alone: suffixes are sorted by their
    first token, separators (one per document) lowest."""
    present = np.flatnonzero(token_counts)
    hi = documents + np.cumsum(token_counts[present])
    return np.stack([present, hi - token_counts[present], hi], axis=1).astype(np.int64)


def _counted(counts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """``counts`` (occurrences per token id) with the non-negative ``tokens`` added; grows as needed."""
    if not tokens.size:
        return counts
    part = np.bincount(tokens)
    if len(part) < len(counts):
        part, counts = counts, part
    part[:len(counts)] += counts
    return part


def _token_counts(tokens: np.ndarray) -> np.ndarray:
    counts = np.zeros(0, dtype=np.int64)
    for start in range(0, len(tokens), _CHUNK):
        chunk = np.asarray(tokens[start:start + _CHUNK])
        counts = _counted(counts, chunk[chunk != SEPARATOR])
    return counts


def _suffix_dtype(n: int):
    return np.int32 if n < 2**31 else np.int64


def _codes(tokens: np.ndarray) -> np.ndarray:
    """Each token as ``token + 1`` in 2 (or, past 65,535, 4) big-endian bytes: byte order is token
    order with the separator lowest."""
    width = 2 if int(np.max(tokens)) + 1 < 2**16 else 4
    codes = np.empty(len(tokens), dtype=f">u{width}")
    for start in range(0, len(tokens), _CHUNK):
        codes[start:start + _CHUNK] = np.asarray(tokens[start:start + _CHUNK], dtype=np.int64) + 1
    return codes


def _byte_suffixes(codes: np.ndarray) -> np.ndarray:
    """pydivsufsort's suffix array of the codes' bytes (its own integer path holds several more
    copies of the corpus)."""
    from pydivsufsort import divsufsort

    return divsufsort(codes.view(np.uint8))


def _token_suffixes(byte_suffixes: np.ndarray, width: int) -> Iterator[np.ndarray]:
    """The token suffix array, in chunks: the byte suffixes that start on a code boundary, in order."""
    shift = width.bit_length() - 1
    for start in range(0, len(byte_suffixes), _CHUNK):
        chunk = byte_suffixes[start:start + _CHUNK]
        yield chunk[(chunk & (width - 1)) == 0] >> shift


def suffix_array(tokens: np.ndarray) -> np.ndarray:
    """The suffix array of ``tokens`` (int32 ids, separators ``-1``), in memory."""
    codes = _codes(tokens)
    chunks = _token_suffixes(_byte_suffixes(codes), codes.dtype.itemsize)
    return np.concatenate(list(chunks)).astype(_suffix_dtype(len(tokens)))


def write_fmindex(documents: Iterable[Sequence[int]], folder: str | Path, meta: dict | None = None) -> "FMIndex":
    """Build an index over ``documents`` (sequences of token ids) straight into ``folder``; open it.

    Token ids go to ``tokens.npy`` as they come and the suffix array to ``suffixes.npy`` in chunks;
    only the suffix sort holds the corpus in RAM (the codes and pydivsufsort's byte suffix array).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = np.zeros(0, dtype=np.int64)
    with NpyAppender(folder / "tokens.npy", np.int32) as tokens, NpyAppender(folder / "offsets.npy", np.int64) as offsets:
        offsets.append(np.zeros(1, dtype=np.int64))
        pending: list[np.ndarray] = []

        def flush() -> None:
            nonlocal counts
            if pending:
                batch = np.concatenate(pending)
                ends = tokens.length + np.cumsum([len(part) for part in pending])
                tokens.append(batch)
                offsets.append(ends)
                counts = _counted(counts, batch[batch != SEPARATOR])
                pending.clear()

        for position, ids in enumerate(documents):
            pending.append(np.append(_checked(ids, position), np.int32(SEPARATOR)))
            if len(pending) == _DOCUMENT_BATCH:
                flush()
        flush()
        documents_written, token_total = offsets.length - 1, tokens.length
    if documents_written == 0:
        raise RegardError("an n-gram index needs at least one document")
    codes = _codes(np.load(folder / "tokens.npy", mmap_mode="r"))  # the mapping is released here
    width, byte_suffixes = codes.dtype.itemsize, _byte_suffixes(codes)
    del codes
    # Appended with plain writes, not through a mapping, so written pages do not count as resident.
    with NpyAppender(folder / "suffixes.npy", _suffix_dtype(token_total)) as suffixes:
        for chunk in _token_suffixes(byte_suffixes, width):
            suffixes.append(chunk)
    np.save(folder / _FIRST, _first_table(counts, documents_written), allow_pickle=False)
    _write_meta(folder, meta)
    return FMIndex.load(folder)


def _write_meta(folder: Path, meta: dict | None) -> None:
    meta = {**(meta or {}), "format_version": FORMAT_VERSION, "separator": SEPARATOR}
    (folder / _META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


class FMIndex:
    """Count, locate and extend token n-grams of a corpus (see the module docstring)."""

    def __init__(self, tokens: np.ndarray, suffixes: np.ndarray, offsets: np.ndarray, meta: dict | None = None,
                 first: np.ndarray | None = None):
        self.tokens, self.suffixes, self.offsets = tokens, suffixes, offsets
        self.meta = dict(meta or {})
        self._first_rows = first
        self._first: Continuations | None = None

    # -- construction and storage --------------------------------------------------------------------

    @classmethod
    def build(cls, documents: Iterable[Sequence[int]], meta: dict | None = None) -> "FMIndex":
        """An in-memory index over ``documents``, each a sequence of non-negative token ids.

        For corpora of any size, :func:`write_fmindex` builds on disk instead.
        """
        parts, offsets = [], [0]
        for position, ids in enumerate(documents):
            parts.append(np.append(_checked(ids, position), np.int32(SEPARATOR)))
            offsets.append(offsets[-1] + len(parts[-1]))
        if len(offsets) == 1:
            raise RegardError("an n-gram index needs at least one document")
        tokens = np.concatenate(parts)
        return cls(tokens, suffix_array(tokens), np.asarray(offsets, dtype=np.int64), meta)

    def save(self, folder: str | Path) -> None:
        """Write ``tokens.npy``, ``suffixes.npy``, ``offsets.npy``, ``first.npy`` and ``fmindex.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(_FILES, (self.tokens, self.suffixes, self.offsets)):
            np.save(folder / name, np.asarray(array), allow_pickle=False)
        np.save(folder / _FIRST, self._first_array(), allow_pickle=False)
        _write_meta(folder, self.meta)

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "FMIndex":
        """Open a saved index; the arrays are memory-mapped (never copied) unless ``mmap`` is false."""
        folder = Path(folder)
        missing = [name for name in (*_FILES, _META) if not (folder / name).is_file()]
        if missing:
            raise BadIndexError(f"{folder}: n-gram index incomplete, missing {', '.join(missing)}")
        meta = json.loads((folder / _META).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise BadIndexError(f"{folder}: n-gram index format {meta.get('format_version')!r}, "
                                f"expected {FORMAT_VERSION}; rebuild it")
        mode = "r" if mmap else None
        arrays = [np.load(folder / name, mmap_mode=mode, allow_pickle=False) for name in _FILES]
        first = np.load(folder / _FIRST, allow_pickle=False) if (folder / _FIRST).is_file() else None
        return cls(*arrays, meta=meta, first=first)

    # -- sizes ---------------------------------------------------------------------------------------

    @property
    def document_count(self) -> int:
        return len(self.offsets) - 1

    @property
    def token_count(self) -> int:
        """Corpus tokens, separators excluded (the denominator of unconditional n-gram probabilities)."""
        return int(len(self.tokens) - self.document_count)

    @property
    def nbytes(self) -> int:
        """Bytes of the three arrays (what the index costs on disk, bar the ``.npy`` headers)."""
        return int(self.tokens.nbytes + self.suffixes.nbytes + self.offsets.nbytes)

    # -- queries -------------------------------------------------------------------------------------

    def _first_array(self) -> np.ndarray:
        if self._first_rows is None:
            self._first_rows = _first_table(_token_counts(self.tokens), self.document_count)
        return self._first_rows

    def _following(self, positions, depth: int) -> np.ndarray:
        """The token ``depth`` places after the start of the suffixes at ``positions`` (a slice or indices)."""
        return np.asarray(self.tokens[np.asarray(self.suffixes[positions], dtype=np.int64) + depth])

    def _lower_bound(self, lo: int, hi: int, depth: int, token: int) -> int:
        """The first suffix in ``[lo, hi)`` whose token at ``depth`` is at least ``token``.

        The range's suffixes share their first ``depth`` tokens, so that token is non-decreasing in it.
        """
        tokens, suffixes = self.tokens, self.suffixes
        while hi - lo > _GATHER:
            mid = (lo + hi) // 2
            if tokens[int(suffixes[mid]) + depth] < token:
                lo = mid + 1
            else:
                hi = mid
        return lo + int(np.searchsorted(self._following(slice(lo, hi), depth), token))

    def range(self, ngram: Sequence[int]) -> tuple[int, int]:
        """The suffix-array range ``[lo, hi)`` of the suffixes that start with ``ngram`` (empty: lo == hi)."""
        lo, hi = 0, len(self.suffixes)
        for depth, token in enumerate(ngram):
            token = int(token)
            if token < 0:
                return lo, lo
            if depth == 0:
                first = self._first_array()
                at = int(np.searchsorted(first[:, 0], token))
                if at == len(first) or first[at, 0] != token:
                    return 0, 0
                lo, hi = int(first[at, 1]), int(first[at, 2])
                continue
            lo = self._lower_bound(lo, hi, depth, token)
            hi = self._lower_bound(lo, hi, depth, token + 1)
            if lo == hi:
                return lo, hi
        return lo, hi

    def count(self, ngram: Sequence[int]) -> int:
        """Occurrences of ``ngram`` in the corpus (the empty n-gram: every token)."""
        if len(ngram) == 0:
            return self.token_count
        lo, hi = self.range(ngram)
        return hi - lo

    def locate(self, ngram: Sequence[int], limit: int | None = None) -> np.ndarray:
        """Corpus positions where ``ngram`` starts (unsorted), at most ``limit`` of them (only those are read)."""
        if len(ngram) == 0:
            raise RegardError("cannot locate the empty n-gram")
        lo, hi = self.range(ngram)
        if limit is not None:
            hi = min(hi, lo + limit)
        return np.asarray(self.suffixes[lo:hi], dtype=np.int64)

    def document_of(self, positions: np.ndarray) -> np.ndarray:
        """The document (index position) holding each corpus position."""
        return np.searchsorted(self.offsets, positions, side="right") - 1

    def documents(self, ngram: Sequence[int]) -> np.ndarray:
        """The sorted distinct documents (index positions) that contain ``ngram``."""
        return np.unique(self.document_of(self.locate(ngram)))

    def document_tokens(self, document: int) -> np.ndarray:
        """The token ids of one document (without its separator)."""
        if not 0 <= document < self.document_count:
            raise RegardError(f"no document {document}: the index holds {self.document_count}")
        return np.asarray(self.tokens[self.offsets[document]:self.offsets[document + 1] - 1])

    def _runs(self, lo: int, hi: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the token at ``depth`` changes in ``[lo, hi)``: (token, first suffix) per run, in order."""
        if hi - lo <= _GATHER:
            following = self._following(slice(lo, hi), depth)
            change = np.flatnonzero(np.r_[True, following[1:] != following[:-1]])
            return following[change], lo + change
        starts = np.arange(lo, hi, -(-(hi - lo) // _FANOUT), dtype=np.int64)
        probed = self._following(np.r_[starts, hi - 1], depth)
        # A stretch whose first token equals the next stretch's first (or, for the last, the range's
        # last) holds that token throughout; only the others are searched further.
        uniform = probed[:-1] == probed[1:]
        tokens, firsts = [probed[:-1][uniform]], [starts[uniform]]
        ends = np.r_[starts[1:], hi]
        mixed = np.flatnonzero(~uniform)
        if len(mixed) and ends[0] - starts[0] <= _GATHER:
            # Small stretches: read all the mixed ones in one gather; a run starts at each stretch's
            # first suffix and wherever the token changes inside it.
            sizes = ends[mixed] - starts[mixed]
            offsets = np.repeat(np.cumsum(sizes) - sizes, sizes)
            positions = np.repeat(starts[mixed], sizes) + np.arange(int(sizes.sum())) - offsets
            following = self._following(positions, depth)
            change = np.r_[True, following[1:] != following[:-1]]
            change[np.cumsum(sizes)[:-1]] = True
            tokens.append(following[change])
            firsts.append(positions[change])
        else:
            for block in mixed:
                block_tokens, block_firsts = self._runs(int(starts[block]), int(ends[block]), depth)
                tokens.append(block_tokens)
                firsts.append(block_firsts)
        firsts_all = np.concatenate(firsts)
        order = np.argsort(firsts_all, kind="stable")
        tokens_all, firsts_all = np.concatenate(tokens)[order], firsts_all[order]
        new = np.r_[True, tokens_all[1:] != tokens_all[:-1]]
        return tokens_all[new], firsts_all[new]

    def continuations(self, ngram: Sequence[int] = (), span: tuple[int, int] | None = None) -> Continuations:
        """The distinct tokens that follow ``ngram`` in the corpus (any first token for the empty one).

        ``span`` is the n-gram's suffix-array range when the caller already has it (from a previous
        call's ``ranges``): the search is then skipped.
        """
        depth = len(ngram)
        if depth == 0:
            if self._first is None:
                first = self._first_array()
                self._first = Continuations(first[:, 0].astype(np.int32), first[:, 2] - first[:, 1], first[:, 1:])
            return self._first
        lo, hi = span if span is not None else self.range(ngram)
        if lo == hi:
            return Continuations(np.empty(0, np.int32), np.empty(0, np.int64), np.empty((0, 2), np.int64))
        tokens, firsts = self._runs(int(lo), int(hi), depth)
        bounds = np.r_[firsts, hi].astype(np.int64)
        keep = tokens != SEPARATOR
        ranges = np.stack([bounds[:-1], bounds[1:]], axis=1)[keep]
        return Continuations(tokens[keep], np.diff(bounds)[keep], ranges)
