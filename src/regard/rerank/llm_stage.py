"""What the LLM rerankers share: their backend, candidate texts, word budget and cost meter."""

from __future__ import annotations

from regard.data.types import Query, Run
from regard.pipeline import Stage
from regard.rerank.docs import DocumentSource, as_docstore, fetch_candidates, truncate_words
from regard.rerank.llm.cost import CostMeter, QueryCost

DEFAULT_MAX_WORDS = 100


class LLMReranker(Stage):
    """Base of the LLM reranking stages: subclasses implement ``rerank_one``.

    ``cost`` accumulates forward passes, prompt and generated tokens and seconds per query over every
    call; ``cost.summary()`` reports them.
    """

    def __init__(self, docs: DocumentSource, max_words: int | None = DEFAULT_MAX_WORDS):
        if max_words is not None and max_words < 1:
            raise ValueError(f"max_words must be at least 1, got {max_words}")
        self.docstore, self.corpus_key = as_docstore(docs)
        self.max_words = max_words
        self.cost = CostMeter()

    def rerank_one(self, query: Query, docids: list[str], texts: list[str],
                   record: QueryCost) -> list[tuple[str, float]]:
        """(docid, score) for every candidate of one query; ``record`` is its QueryCost."""
        raise NotImplementedError

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        from regard.progress import progress_bar

        wanted, documents = fetch_candidates(self.docstore, queries, run, type(self).__name__)
        result = {}
        for query, docids in progress_bar(wanted, desc=self.name, unit="query", disable=len(wanted) < 2):
            texts = [truncate_words(documents[d].contents, self.max_words) for d in docids]
            with self.cost.query(query.id) as record:
                result[query.id] = self.rerank_one(query, docids, texts, record) if docids else []
        return Run(result)


def scores_from_order(order: list[str]) -> list[tuple[str, float]]:
    """Descending scores n, n-1, ..., 1 for a ranked list of docids."""
    return [(docid, float(len(order) - position)) for position, docid in enumerate(order)]
