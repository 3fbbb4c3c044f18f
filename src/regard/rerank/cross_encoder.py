"""Cross-encoder reranking: query and document read together by a sequence-classification model."""

from __future__ import annotations

from pathlib import Path

from regard.data.types import Query, Run
from regard.encoders.pair_scorer import DEFAULT_CROSS_ENCODER, PairScorer
from regard.encoders.score_cache import ScoreCache
from regard.pipeline import Stage
from regard.rerank.docs import DocumentSource, as_docstore, fetch_candidates

__all__ = ["DEFAULT_CROSS_ENCODER", "CrossEncoder", "PairScorer"]


class CrossEncoder(Stage):
    """Reranks every candidate of the incoming run (cut it first: ``bm25 % 100 >> CrossEncoder(...)``).

    Texts come from ``docs`` (an Index, a DocStore, or an index folder). Scores are cached by
    (model, corpus, query text, docid), so repeated experiments do not recompute them.
    """

    def __init__(self, docs: DocumentSource, model: str = DEFAULT_CROSS_ENCODER, *, batch_size: int = 32,
                 max_length: int | None = None, device: str | None = None, precision: str = "auto",
                 cache: bool = True, trust_remote_code: bool = False, scorer: PairScorer | None = None,
                 runtime: str = "auto"):
        self.docstore, self.corpus_key = as_docstore(docs)
        self.scorer = scorer or PairScorer.load(model, device=device, precision=precision, batch_size=batch_size,
                                           max_length=max_length, trust_remote_code=trust_remote_code,
                                           runtime=runtime)
        self.cache = ScoreCache() if cache else None
        self.name = f"CrossEncoder({Path(self.scorer.name).name})"

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        wanted, texts = fetch_candidates(self.docstore, queries, run, "CrossEncoder")
        namespace = f"{self.scorer.identity}|{self.corpus_key}"
        known = self.cache.lookup(namespace, [(q.text, d) for q, docids in wanted for d in docids]) if self.cache else {}
        todo = [(q.text, d) for q, docids in wanted for d in docids if (q.text, d) not in known]
        todo = list(dict.fromkeys(todo))
        if todo:
            fresh = self.scorer.score([t for t, _ in todo], [texts[d].contents for _, d in todo],
                                      progress=len(todo) > 1000)
            new = dict(zip(todo, fresh.tolist()))
            known.update(new)
            if self.cache:
                self.cache.store(namespace, new)
        return Run({q.id: [(d, known[(q.text, d)]) for d in docids] for q, docids in wanted})
