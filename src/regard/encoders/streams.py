"""Several batches at once on one inference session: the throughput layout of a CPU runtime.

One forward pass spread over every core spends part of each operator waiting for the slowest thread.
Running ``streams`` batches side by side, each on its own share of the cores, keeps every core on
useful work (OpenVINO's THROUGHPUT hint does the same with its streams). ONNX Runtime runs concurrent
``run`` calls on one session and releases the GIL while it computes, so plain threads suffice and the
weights are held once.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_streams(work: Callable[[Item], Result], items: Iterable[Item], streams: int) -> Iterator[Result]:
    """``work(item)`` for each item, in order, with up to ``streams`` running at once.

    Items are drawn lazily, at most two per stream ahead of the oldest unfinished one, so a long
    iterable is never materialised. With one stream everything runs in the caller's thread. An
    exception in ``work`` is raised here, when its item's turn comes.
    """
    if streams <= 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="regard-stream") as pool:
        pending: deque[Future] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) >= 2 * streams:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
