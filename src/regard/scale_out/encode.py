"""Corpus encoding on Ray: a pool of encoder actors as a ``ShardMapper`` for the encoding caches.

Each actor builds its encoder once from an :class:`EncoderSpec` (a factory and its keyword
arguments: model, precision, maximum length, prefixes). The driver sends each shard's texts through
Ray's object store (no shared file system) and gets the shard's vectors back; the cache saves them
under the shard's id, so the result is the same as a single-process build's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from regard.errors import RegardError
from regard.scale_out.actor_pool import ActorPool, Recipe
from regard.scale_out.options import RayOptions
from regard.scale_out.shards import Shard


@dataclass(frozen=True)
class EncoderSpec:
    """A picklable description of an encoder: ``factory(**kwargs)`` builds it, ``method(texts)`` encodes."""

    factory: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    method: str = "encode"

    def recipe(self) -> Recipe:
        return Recipe(self.factory, (), dict(self.kwargs))


class RayEncoderMapper:
    """Encodes shards on ``options.workers`` Ray actors; a ``ShardMapper``.

    The pool starts when the first shard needs encoding and stops when the shards are done (a fully
    cached corpus starts nothing). ``expected_identity``, when given, is checked against the workers'
    encoder identity before any shard is sent, so vectors never mix two settings (e.g. a worker with a
    GPU resolving another precision than the driver).
    """

    def __init__(self, spec: EncoderSpec, options: RayOptions, expected_identity: Any = None):
        self.spec, self.options, self.expected_identity = spec, options, expected_identity
        self.pool: ActorPool | None = None

    def map_shards(self, shards: Iterable[Shard]) -> Iterator[tuple[int, Any]]:
        source = iter(shards)
        first = next(source, None)
        if first is None:
            return
        self.pool = ActorPool(self.spec.recipe(), self.options)
        try:
            self._check_identity()
            batches = ((shard_id, (texts,)) for shard_id, texts in _chain(first, source))
            yield from self.pool.map_unordered(self.spec.method, batches)
        finally:
            self.pool.close()

    def _check_identity(self) -> None:
        if self.expected_identity is None:
            return
        found = self.pool.attribute("identity")
        if found != self.expected_identity:
            raise RegardError(f"the Ray workers' encoder ({found}) differs from the driver's "
                              f"({self.expected_identity}); pass an explicit --precision and --device")


def _chain(first: Shard, rest: Iterator[Shard]) -> Iterator[Shard]:
    yield first
    yield from rest
