"""The seam between the encoding caches and whoever encodes: shards of texts in, shards of vectors out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

Shard = tuple[int, list[str]]


class ShardMapper(Protocol):
    """Maps shards ``(shard_id, texts)`` to ``(shard_id, vectors)``, in any order.

    The caller consumes the results as they come and saves each shard under its id, so a mapper may
    finish shards out of order; it should pull shards from ``shards`` lazily (not the whole corpus at once).
    """

    def map_shards(self, shards: Iterable[Shard]) -> Iterator[tuple[int, Any]]: ...


class LocalShardMapper:
    """Encodes each shard in this process, in order, with ``encode(texts)``."""

    def __init__(self, encode: Callable[[list[str]], Any]):
        self.encode = encode

    def map_shards(self, shards: Iterable[Shard]) -> Iterator[tuple[int, Any]]:
        for shard_id, texts in shards:
            yield shard_id, self.encode(texts)
