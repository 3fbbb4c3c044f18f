"""in_streams: work on several items at once, results in order, items drawn lazily, errors raised in turn."""

from __future__ import annotations

import threading
import time

import pytest

from regard.encoders.streams import in_streams


def test_results_come_in_input_order_even_when_later_items_finish_first():
    def work(item: int) -> int:
        time.sleep(0.02 if item % 2 == 0 else 0.0)
        return item * 10

    assert list(in_streams(work, range(9), streams=3)) == [i * 10 for i in range(9)]


def test_items_run_at_once_on_several_threads():
    seen, barrier = set(), threading.Barrier(2, timeout=5)

    def work(item: int) -> int:
        barrier.wait()  # both items must be in flight together, or this times out
        seen.add(threading.get_ident())
        return item

    assert list(in_streams(work, [1, 2], streams=2)) == [1, 2]
    assert len(seen) == 2


def test_items_are_drawn_lazily():
    drawn = []

    def items():
        for i in range(1000):
            drawn.append(i)
            yield i

    results = in_streams(lambda item: item, items(), streams=2)
    assert next(results) == 0
    assert len(drawn) <= 5  # two per stream ahead of the oldest, not the whole iterable


def test_one_stream_runs_in_the_callers_thread():
    caller = threading.get_ident()
    assert list(in_streams(lambda item: threading.get_ident() == caller, range(3), streams=1)) == [True] * 3


def test_an_error_is_raised_when_its_items_turn_comes():
    def work(item: int) -> int:
        if item == 3:
            raise ValueError("bad item 3")
        return item

    results = in_streams(work, range(10), streams=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad item 3"):
        next(results)
