"""Micro-batching: queries that arrive together run through the pipeline as one batch.

Requests wait in a bounded queue. A worker takes the oldest query, then whatever else arrives within
``max_wait_ms`` (up to ``max_batch`` queries), and runs them in one call in a thread, so model stages
encode and score the batch together. A full queue is refused at once (the app answers 503), and a
query whose caller has given up is dropped before it runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from regard.serve.options import BatchingOptions

log = logging.getLogger(__name__)


class QueueFullError(Exception):
    """The request queue is full: the service is above capacity."""


@dataclass
class _Pending:
    item: Any
    future: asyncio.Future


class MicroBatcher:
    """Feeds items to ``run_batch(items) -> results`` (one result per item, same order) in batches.

    The queue and the worker tasks start on the first ``submit``, inside the running event loop.
    """

    def __init__(self, run_batch: Callable[[list[Any]], list[Any]], options: BatchingOptions | None = None):
        self.run_batch = run_batch
        self.options = options or BatchingOptions()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._tasks: list[asyncio.Task] = []
        self._executor: ThreadPoolExecutor | None = None
        self.in_flight = 0
        self.batches = 0
        self.batched_items = 0

    @property
    def queued(self) -> int:
        """Items waiting for a worker."""
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, item: Any) -> Any:
        """The result for ``item``; raises QueueFullError at once when the queue is full."""
        self._start()
        future = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(item, future))
        except asyncio.QueueFull:
            raise QueueFullError from None
        return await future

    def _start(self) -> None:
        if self._queue is not None:
            return
        self._queue = asyncio.Queue(maxsize=self.options.max_queue)
        self._executor = ThreadPoolExecutor(self.options.workers, thread_name_prefix="regard-serve")
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.options.workers)]

    async def close(self) -> None:
        """Stop the workers; queries still queued get a cancellation."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            self._queue.get_nowait().future.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._queue, self._tasks, self._executor = None, [], None

    async def _collect(self) -> list[_Pending]:
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.max_wait_ms / 1000
        while len(batch) < self.options.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return [pending for pending in batch if not pending.future.done()]  # callers that timed out are gone

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            self.in_flight += len(batch)
            try:
                results = await loop.run_in_executor(self._executor, self.run_batch, [p.item for p in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} items")
            except asyncio.CancelledError:
                for pending in batch:
                    pending.future.cancel()
                raise
            except Exception as err:  # one failing batch must not stop the service
                log.exception("a batch of %d queries failed", len(batch))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(err)
            else:
                for pending, result in zip(batch, results):
                    if not pending.future.done():
                        pending.future.set_result(result)
                self.batches += 1
                self.batched_items += len(batch)
            finally:
                self.in_flight -= len(batch)
