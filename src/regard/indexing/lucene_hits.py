"""Lucene hits as numpy arrays, and Anserini's score adjustment, without a Python object per hit.

pyserini's ``batch_search`` loads every hit's stored document in the JVM and hands Python one
``ScoredDoc`` object per hit, whose fields are then read one JNI call at a time: on SciFact at
k = 1000 that is most of the search time, and all of it serial under the GIL. Here a search returns
Lucene's ``TopDocs``, and Jackson (inside Anserini's jar) turns its hits into one ``int[]`` of Lucene
document numbers and one ``double[]`` of scores (each float widened exactly, never printed as
decimals), which pyjnius hands over as two lists. Document ids come from a table built once per index
(:func:`lucene_id_order`), not from stored documents.
"""

from __future__ import annotations

import numpy as np

_HIT_FIELDS = ("doc", "score", "shardIndex")


class HitArrays:
    """Reads the hits of a Lucene ``TopDocs`` as numpy arrays in the JVM's hit order (thread-safe)."""

    def __init__(self):
        from jnius import autoclass

        klass = autoclass("java.lang.Class")
        self._doc_mapper = _mapper("doc")
        self._score_mapper = _mapper("score")
        self._ints = klass.forName("[[I")
        self._doubles = klass.forName("[[D")

    def docs(self, top_docs) -> np.ndarray:
        """Lucene document numbers of the hits (int32)."""
        values = self._doc_mapper.convertValue(top_docs, self._ints)[0]
        return np.fromiter(values, dtype=np.int32, count=len(values))

    def scores(self, top_docs) -> np.ndarray:
        """Scores of the hits: Lucene's float32 values, exactly."""
        values = self._score_mapper.convertValue(top_docs, self._doubles)[0]
        return np.fromiter(values, dtype=np.float64, count=len(values)).astype(np.float32)


def _mapper(keep: str):
    """A Jackson mapper that writes a ``TopDocs`` as ``[[v1], [v2], ...]`` for one field of its hits.

    ``TopDocs`` (and ``TopFieldDocs``) become a one-element array holding the hits, and each hit
    (``ScoreDoc``, ``FieldDoc``) the one-element array ``[keep]``; converted to ``int[][]`` or
    ``double[][]`` with single-value arrays unwrapped, that is one row of the hits' values.
    """
    from jnius import autoclass

    mapper = autoclass("com.fasterxml.jackson.databind.ObjectMapper")()
    mapper.enable(autoclass("com.fasterxml.jackson.databind.DeserializationFeature").UNWRAP_SINGLE_VALUE_ARRAYS)
    as_array = autoclass("com.fasterxml.jackson.annotation.JsonFormat$Value").forShape(
        autoclass("com.fasterxml.jackson.annotation.JsonFormat$Shape").ARRAY)
    ignore = autoclass("com.fasterxml.jackson.annotation.JsonIgnoreProperties$Value").forIgnoredProperties
    dropped = [name for name in _HIT_FIELDS if name != keep]
    for name, ignored in (("TopDocs", ["totalHits"]), ("TopFieldDocs", ["totalHits", "fields"]),
                          ("ScoreDoc", dropped), ("FieldDoc", dropped + ["fields"])):
        override = mapper.configOverride(autoclass(f"org.apache.lucene.search.{name}"))
        override.setFormat(as_array)
        override.setIgnorals(ignore(*ignored))
    return mapper


def lucene_id_order(searcher, hits: HitArrays) -> np.ndarray:
    """Lucene's document numbers sorted by the ``id`` field (byte order, as Anserini breaks ties).

    One search for all documents sorted by the ``id`` doc values; UTF-8 byte order is code point
    order, so this is also the order of Python's ``sorted`` on the ids.
    """
    from jnius import autoclass

    sort_field = autoclass("org.apache.lucene.search.SortField")
    string_values = autoclass("org.apache.lucene.search.SortField$Type").STRING_VAL
    by_id = autoclass("org.apache.lucene.search.Sort")(sort_field("id", string_values))
    everything = autoclass("org.apache.lucene.search.MatchAllDocsQuery")()
    count = searcher.getIndexReader().maxDoc()
    if count == 0:
        return np.zeros(0, dtype=np.int32)
    return hits.docs(searcher.search(everything, count, by_id))


_ROUND = 10_000.0
_TIE_GAP = np.float32(1e-4)  # Java's 1e-4f and 1e-6f: the nearest floats, as np.float32 rounds them
_TIE_STEP = np.float32(1e-6)


def anserini_scores(scores: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """The scores Anserini reports for hits in its order, as its ``ScoreTiesAdjusterReranker`` sets them.

    Each float score is rounded to 4 decimals (``(float) (Math.round(s * 10000d) / 10000d)``); then a
    hit within 1e-4 of the (adjusted) hit before it is the n-th of a run of near-ties and loses
    n * 1e-6, in float arithmetic. pyserini's ``batch_search`` always applies this, so its published
    SciFact figure (nDCG@10 0.6789) rests on these scores. ``scores`` must be in Anserini's order
    (score descending, then id ascending); the result is float32. ``starts``: where the hits of each
    query begin when several queries' hits are concatenated (a query's first hit ties with nothing).
    """
    raw = np.asarray(scores, dtype=np.float32).astype(np.float64) * _ROUND
    whole = np.floor(raw)
    rounded = ((whole + (raw - whole >= 0.5)) / _ROUND).astype(np.float32)  # Math.round: floor(x + 0.5)
    # A hit ties with the one before when the earlier (already lowered) score is within 1e-4 of its own.
    # Lowering a score only adds ties after it, so start from the ties of the rounded scores and repeat
    # until the set of ties stops growing: the fixed point is the one sequential pass Anserini makes.
    tied = np.zeros(len(rounded), dtype=bool)
    tied[1:] = (rounded[:-1] - rounded[1:]) <= _TIE_GAP
    if starts is not None:
        starts = starts[starts < len(rounded)]  # a query without hits starts where the next one does
        tied[starts] = False
    while True:
        if not tied.any():
            return rounded
        adjusted = rounded - _TIE_STEP * _run_lengths(tied).astype(np.float32)
        now = tied.copy()
        now[1:] = (adjusted[:-1] - rounded[1:]) <= _TIE_GAP
        if starts is not None:
            now[starts] = False
        if np.array_equal(now, tied):
            return adjusted
        tied = now


def order_ties_by_rank(scores: np.ndarray, ranks: np.ndarray, starts: np.ndarray, descending: bool) -> np.ndarray:
    """Positions putting each run of equal scores in rank order (ascending or descending); all else stays.

    ``scores`` are non-increasing within each query's hits (queries begin at ``starts``), as Lucene's
    hits and Anserini's adjusted scores are: the result orders every query's hits by score, then rank,
    at once, from one sort of an int64 key (run start, then rank) that is nearly sorted already.
    """
    count = len(scores)
    new_run = np.ones(count, dtype=bool)
    new_run[1:] = scores[1:] != scores[:-1]
    new_run[starts[starts < count]] = True
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(count), 0)).astype(np.int64)
    rank = np.asarray(ranks, dtype=np.int64)
    key = (run_start << 31) | (0x7FFFFFFF - rank if descending else rank)
    return np.argsort(key, kind="stable")


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """For each position, how many consecutive True values end there (0 where False)."""
    positions = np.arange(1, len(flags) + 1)
    last_false = np.maximum.accumulate(np.where(flags, 0, positions))
    return np.where(flags, positions - last_false, 0)
