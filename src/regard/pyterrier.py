"""PyTerrier interop: regard stages as ``pt.Transformer``s, and PyTerrier transformers as regard stages.

PyTerrier passes DataFrames between transformers: queries with columns ``qid`` and ``query``; ranked
results with ``qid``, ``query``, ``docno``, ``score`` and ``rank`` (from 0, best first). A regard
retriever wrapped by :func:`to_pyterrier` reads the queries; a regard reranker reads the incoming
``docno`` rows as its run. :func:`from_pyterrier` goes the other way, so any PyTerrier transformer
can sit in a regard pipeline.

Operators differ: in PyTerrier ``|`` is set union and ``+`` a score sum; in regard ``|`` is
reciprocal-rank fusion. ``>>`` and ``%`` mean the same in both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regard.data.types import Query, Run
from regard.errors import MissingExtraError
from regard.pipeline import Stage

if TYPE_CHECKING:
    import pandas as pd


def _pyterrier():
    try:
        import pyterrier as pt
    except ImportError:
        raise MissingExtraError("python-terrier", "pyterrier", "PyTerrier interop (regard.pyterrier)") from None
    return pt


def queries_from_frame(frame: "pd.DataFrame") -> list[Query]:
    """The distinct (qid, query) pairs of a PyTerrier frame, in order of first appearance."""
    if "qid" not in frame.columns or "query" not in frame.columns:
        raise ValueError(f"a PyTerrier input needs the columns 'qid' and 'query'; got {list(frame.columns)}")
    seen: dict[str, str] = {}
    for qid, text in zip(frame["qid"], frame["query"]):
        seen.setdefault(str(qid), str(text))
    return [Query(qid, text) for qid, text in seen.items()]


def run_from_frame(frame: "pd.DataFrame") -> Run:
    """The run in a frame with ``qid`` and ``docno``; scores from ``score``, else from ``rank`` (best first)."""
    if "score" in frame.columns:
        scores = frame["score"].astype(float)
    elif "rank" in frame.columns:
        scores = -frame["rank"].astype(float)
    else:
        scores = -frame.groupby("qid").cumcount().astype(float)
    rankings: dict[str, list[tuple[str, float]]] = {}
    for qid, docno, score in zip(frame["qid"], frame["docno"], scores):
        rankings.setdefault(str(qid), []).append((str(docno), float(score)))
    return Run(rankings)


def frame_from_run(run: Run, queries: list[Query]) -> "pd.DataFrame":
    """A PyTerrier result frame: ``qid``, ``query``, ``docno``, ``score``, ``rank`` (from 0), queries in order."""
    import pandas as pd

    rows = [(q.id, q.text, docid, score, rank)
            for q in queries for rank, (docid, score) in enumerate(run.get(q.id, []))]
    frame = pd.DataFrame(rows, columns=["qid", "query", "docno", "score", "rank"])
    return frame.astype({"qid": str, "query": str, "docno": str, "score": float, "rank": int})


def to_pyterrier(stage: Stage) -> Any:
    """``stage`` as a ``pt.Transformer``: a retriever reads ``qid``/``query``; a reranker also ``docno``."""
    pt = _pyterrier()

    class RegardTransformer(pt.Transformer):
        """A regard stage inside a PyTerrier pipeline."""

        def __init__(self, inner: Stage):
            self.stage = inner

        def transform(self, inp: "pd.DataFrame") -> "pd.DataFrame":
            queries = queries_from_frame(inp)
            incoming = run_from_frame(inp) if "docno" in inp.columns else None
            return frame_from_run(self.stage.transform(queries, incoming), queries)

        def __repr__(self) -> str:
            return f"regard({self.stage.name})"

    return RegardTransformer(stage)


class PyTerrierStage(Stage):
    """A PyTerrier transformer as a regard stage: queries (and the incoming run, if any) in, a run out."""

    def __init__(self, transformer: Any, name: str | None = None):
        self.transformer = transformer
        self.name = name or repr(transformer)

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        import pandas as pd

        if not queries:
            return Run()
        if run is None:
            frame = pd.DataFrame({"qid": [q.id for q in queries], "query": [q.text for q in queries]})
        else:
            frame = frame_from_run(run, queries)
        output = self.transformer.transform(frame)
        if "docno" not in output.columns:
            raise ValueError(f"{self.name} returned no 'docno' column: it is not a retriever or reranker")
        return run_from_frame(output)


def from_pyterrier(transformer: Any, name: str | None = None) -> Stage:
    """Any PyTerrier transformer (retriever, reranker or pipeline) as a regard :class:`Stage`."""
    _pyterrier()
    return PyTerrierStage(transformer, name)
