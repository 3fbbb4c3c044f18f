"""The check every retriever passes: queries without search terms get empty rankings and a warning."""

from __future__ import annotations


BLANK_QUERY_TEXTS = {"empty": "", "punctuation": " ?! -- ", "stopwords": "The of AND to"}


def assert_blank_queries_get_empty_rankings(stage, searchable_text: str, caplog) -> None:
    """Queries without search terms get an empty ranking and a warning naming them; others are answered."""
    from regard.data.types import Query

    queries = [Query(qid, text) for qid, text in BLANK_QUERY_TEXTS.items()] + [Query("ok", searchable_text)]
    with caplog.at_level("WARNING", logger="regard"):
        run = stage(queries)
    for qid in BLANK_QUERY_TEXTS:
        assert run[qid] == [], qid
    assert len(run["ok"]) > 0
    warning = next(r.getMessage() for r in caplog.records if "no search terms" in r.getMessage())
    assert all(qid in warning for qid in BLANK_QUERY_TEXTS), warning
