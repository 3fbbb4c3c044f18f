"""The service's settings: safety limits per request, and how queries are batched."""

from __future__ import annotations

from dataclasses import dataclass


def _require_positive(options: object, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(options, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(options, name)}")


@dataclass(frozen=True)
class ServiceLimits:
    """Safety limits: results per query, query length, request body size, and the per-request timeout."""

    max_k: int = 100
    max_query_chars: int = 1000
    max_body_bytes: int = 16_384
    timeout_s: float = 30.0
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        _require_positive(self, ("max_k", "max_query_chars", "max_body_bytes", "retry_after_s"))
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")


@dataclass(frozen=True)
class BatchingOptions:
    """How queries are grouped: batch size, wait for company, queue bound and pipeline threads."""

    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 256
    workers: int = 1

    def __post_init__(self) -> None:
        _require_positive(self, ("max_batch", "max_queue", "workers"))
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must not be negative, got {self.max_wait_ms}")
