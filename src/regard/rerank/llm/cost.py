"""What an LLM stage spends: forward passes, prompt and generated tokens, and seconds, per query."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from collections.abc import Iterator


@dataclass
class QueryCost:
    """The cost of reranking one query's candidates."""

    forward_passes: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0


@dataclass
class CostMeter:
    """Accumulates per-query costs; ``summary()`` gives totals and means per query."""

    per_query: dict[str, QueryCost] = field(default_factory=dict)

    @contextmanager
    def query(self, qid: str) -> Iterator[QueryCost]:
        """Time one query's work; the caller adds passes and tokens to the yielded record."""
        record = self.per_query.setdefault(qid, QueryCost())
        started = time.perf_counter()
        try:
            yield record
        finally:
            record.seconds += time.perf_counter() - started

    def reset(self) -> None:
        self.per_query.clear()

    def summary(self) -> dict[str, float]:
        """Totals and per-query means of every counter."""
        count = len(self.per_query)
        totals = QueryCost()
        for record in self.per_query.values():
            for name, value in asdict(record).items():
                setattr(totals, name, getattr(totals, name) + value)
        result: dict[str, float] = {"queries": count}
        for name, value in asdict(totals).items():
            result[name] = value
            result[f"{name}_per_query"] = value / count if count else 0.0
        return result
