"""Checking search requests: every mistake becomes one clear message (the app answers 400 with it)."""

from __future__ import annotations

from typing import Any, Mapping

from regard.serve.options import ServiceLimits

DEFAULT_K = 10


class BadRequest(Exception):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
             dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_query(query: Any, limits: ServiceLimits) -> str:
    """The query text, or BadRequest when it is missing, not a string, empty or too long."""
    if not isinstance(query, str):
        raise BadRequest(f"'query' must be a string, got {_type_name(query)}")
    if not query.strip():
        raise BadRequest("'query' is empty: send some words to search for")
    if len(query) > limits.max_query_chars:
        raise BadRequest(f"'query' has {len(query)} characters; the limit is {limits.max_query_chars}")
    return query


def check_k(k: Any, limits: ServiceLimits) -> int:
    """``k`` as an int in 1..max_k, or BadRequest."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise BadRequest(f"'k' must be an integer, got {_type_name(k)}")
    if not 1 <= k <= limits.max_k:
        raise BadRequest(f"'k' must be between 1 and {limits.max_k}, got {k}")
    return k


def parse_search_body(payload: Any, limits: ServiceLimits) -> tuple[str, int]:
    """(query, k) from a decoded ``POST /search`` body ``{"query": "...", "k": 10}``."""
    if not isinstance(payload, dict):
        raise BadRequest(f'the body must be a JSON object like {{"query": "...", "k": 10}}, got {_type_name(payload)}')
    unknown = sorted(set(payload) - {"query", "k"})
    if unknown:
        raise BadRequest(f"unknown field {', '.join(repr(u) for u in unknown)}: a search takes 'query' and 'k'")
    if "query" not in payload:
        raise BadRequest("missing field 'query'")
    return check_query(payload["query"], limits), check_k(payload.get("k", DEFAULT_K), limits)


def parse_search_params(params: Mapping[str, str], limits: ServiceLimits) -> tuple[str, int]:
    """(query, k) from ``GET /search?q=...&k=...``."""
    if "q" not in params:
        raise BadRequest("missing parameter 'q': GET /search?q=words&k=10")
    k = params.get("k", str(DEFAULT_K))
    try:
        k = int(k.strip())
    except ValueError:
        raise BadRequest(f"'k' must be an integer, got {k!r}") from None
    return check_query(params["q"], limits), check_k(k, limits)
