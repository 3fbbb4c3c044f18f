"""How a job is spread over Ray workers: how many, what each one reserves, how much is in flight."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RayOptions:
    """Resources of a Ray worker pool.

    ``workers`` actors each hold one model; each reserves ``cpus_per_worker`` CPUs and
    ``gpus_per_worker`` GPUs (fractions share a device). At most ``in_flight_per_worker`` batches per
    worker are submitted and not yet collected (back-pressure: the driver never submits the whole
    corpus). A batch whose worker died is submitted again to a replacement, up to ``attempts`` times.
    """

    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    in_flight_per_worker: int = 2
    attempts: int = 3

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.cpus_per_worker < 0 or self.gpus_per_worker < 0:
            raise ValueError("cpus_per_worker and gpus_per_worker must not be negative")
        if self.in_flight_per_worker < 1 or self.attempts < 1:
            raise ValueError("in_flight_per_worker and attempts must be at least 1")
