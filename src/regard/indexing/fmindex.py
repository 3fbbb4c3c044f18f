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
BWT): it answers the same queries in ``O(m log N)``, stores ``8 N`` bytes for ``N`` tokens, and is
loaded memory-mapped from three ``.npy`` files (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regard.errors import BadIndexError, RegardError

SEPARATOR = -1
NGRAM_DIR = "ngram"
_FILES = ("tokens.npy", "suffixes.npy", "offsets.npy")
_META = "fmindex.json"
FORMAT_VERSION = 1


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


class FMIndex:
    """Count, locate and extend token n-grams of a corpus (see the module docstring)."""

    def __init__(self, tokens: np.ndarray, suffixes: np.ndarray, offsets: np.ndarray, meta: dict | None = None):
        self.tokens, self.suffixes, self.offsets = tokens, suffixes, offsets
        self.meta = dict(meta or {})
        heads = np.asarray(tokens[suffixes])  # first token of each suffix, non-decreasing
        change = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]])
        bounds = np.r_[change, len(heads)]
        keep = heads[change] != SEPARATOR
        self._first = Continuations(heads[change][keep], np.diff(bounds)[keep],
                                    np.stack([bounds[:-1], bounds[1:]], axis=1)[keep])

    # -- construction and storage --------------------------------------------------------------------

    @classmethod
    def build(cls, documents: Iterable[Sequence[int]], meta: dict | None = None) -> "FMIndex":
        """An index over ``documents``, each a sequence of non-negative token ids."""
        from pydivsufsort import divsufsort

        parts, offsets = [], [0]
        for position, ids in enumerate(documents):
            array = np.asarray(ids, dtype=np.int64)
            if array.size and (array.min() < 0 or array.max() >= 2**31 - 1):
                raise RegardError(f"document {position}: token ids must lie in [0, 2^31 - 1)")
            parts.append(array.astype(np.int32))
            parts.append(np.array([SEPARATOR], dtype=np.int32))
            offsets.append(offsets[-1] + array.size + 1)
        if len(offsets) == 1:
            raise RegardError("an n-gram index needs at least one document")
        tokens = np.concatenate(parts)
        suffixes = np.asarray(divsufsort(tokens))
        if len(tokens) < 2**31:
            suffixes = suffixes.astype(np.int32)
        return cls(tokens, suffixes, np.asarray(offsets, dtype=np.int64), meta)

    def save(self, folder: str | Path) -> None:
        """Write ``tokens.npy``, ``suffixes.npy``, ``offsets.npy`` and ``fmindex.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(_FILES, (self.tokens, self.suffixes, self.offsets)):
            np.save(folder / name, np.asarray(array), allow_pickle=False)
        meta = {"format_version": FORMAT_VERSION, "separator": SEPARATOR, **self.meta}
        (folder / _META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "FMIndex":
        """Open a saved index; the arrays are memory-mapped unless ``mmap`` is false."""
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
        return cls(*arrays, meta=meta)

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

    def range(self, ngram: Sequence[int]) -> tuple[int, int]:
        """The suffix-array range ``[lo, hi)`` of the suffixes that start with ``ngram`` (empty: lo == hi)."""
        lo, hi = 0, len(self.suffixes)
        for depth, token in enumerate(ngram):
            token = int(token)
            if token < 0:
                return lo, lo
            if depth == 0:
                at = np.searchsorted(self._first.tokens, token)
                if at == len(self._first.tokens) or self._first.tokens[at] != token:
                    return 0, 0
                lo, hi = (int(x) for x in self._first.ranges[at])
                continue
            following = np.asarray(self.tokens[np.asarray(self.suffixes[lo:hi]) + depth])
            left, right = np.searchsorted(following, [token, token + 1])
            lo, hi = lo + int(left), lo + int(right)
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
        """Corpus positions where ``ngram`` starts (unsorted), at most ``limit`` of them."""
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

    def continuations(self, ngram: Sequence[int] = (), span: tuple[int, int] | None = None) -> Continuations:
        """The distinct tokens that follow ``ngram`` in the corpus (any first token for the empty one).

        ``span`` is the n-gram's suffix-array range when the caller already has it (from a previous
        call's ``ranges``): the search is then skipped.
        """
        depth = len(ngram)
        if depth == 0:
            return self._first
        lo, hi = span if span is not None else self.range(ngram)
        if lo == hi:
            return Continuations(np.empty(0, np.int32), np.empty(0, np.int64), np.empty((0, 2), np.int64))
        following = np.asarray(self.tokens[np.asarray(self.suffixes[lo:hi]) + depth])
        change = np.flatnonzero(np.r_[True, following[1:] != following[:-1]])
        bounds = np.r_[change, len(following)]
        keep = following[change] != SEPARATOR
        ranges = np.stack([lo + bounds[:-1], lo + bounds[1:]], axis=1)[keep]
        return Continuations(following[change][keep], np.diff(bounds)[keep], ranges)
