"""The service's parts without HTTP: request checks, snippets, stage tracing and micro-batching."""

from __future__ import annotations

import asyncio
import threading

import pytest

from regard import Index
from regard.data.types import Document, Query
from regard.retrieval.fusion import ReciprocalRankFusion
from regard.serve.batching import MicroBatcher, QueueFullError
from regard.serve.options import BatchingOptions, ServiceLimits
from regard.serve.results import query_terms, snippet
from regard.serve.trace import stage_labels, traced_run
from regard.serve.validation import BadRequest, parse_search_body, parse_search_params

LIMITS = ServiceLimits(max_k=50, max_query_chars=40)
DOCS = [
    Document("d1", "p53 mutations drive many cancers; mutated p53 loses tumour suppression.", "p53 in cancer"),
    Document("d2", "Vitamin D deficiency and the risk of multiple sclerosis.", "Vitamin D"),
    Document("d3", "Cancer cells divide without control.", "Cell division"),
    Document("d4", "Mutation rates in bacteria under antibiotic stress.", "Bacterial mutation"),
    Document("d5", "Tumour suppressor genes such as p53 and RB1.", "Suppressors"),
]


@pytest.fixture(scope="module")
def tiny_bm25(tmp_path_factory):
    return Index.build(DOCS, tmp_path_factory.mktemp("serve") / "bm25", kind="bm25", backend="bm25s").retriever(k=10)


@pytest.mark.parametrize("payload, message", [
    ([1, 2], "must be a JSON object"),
    ({"k": 3}, "missing field 'query'"),
    ({"query": 7}, "'query' must be a string, got a number"),
    ({"query": "   "}, "'query' is empty"),
    ({"query": "x" * 41}, "the limit is 40"),
    ({"query": "p53", "k": 0}, "between 1 and 50, got 0"),
    ({"query": "p53", "k": 51}, "between 1 and 50, got 51"),
    ({"query": "p53", "k": True}, "'k' must be an integer, got a boolean"),
    ({"query": "p53", "k": 2.5}, "'k' must be an integer, got a number"),
    ({"query": "p53", "size": 3}, "unknown field 'size'"),
])
def test_bad_search_bodies_get_clear_messages(payload, message):
    with pytest.raises(BadRequest) as raised:
        parse_search_body(payload, LIMITS)
    assert message in raised.value.message and raised.value.status == 400


def test_good_search_requests():
    assert parse_search_body({"query": "p53 cancer"}, LIMITS) == ("p53 cancer", 10)
    assert parse_search_params({"q": "p53", "k": " 7 "}, LIMITS) == ("p53", 7)
    with pytest.raises(BadRequest, match="missing parameter 'q'"):
        parse_search_params({"k": "3"}, LIMITS)
    with pytest.raises(BadRequest, match="must be an integer, got 'ten'"):
        parse_search_params({"q": "p53", "k": "ten"}, LIMITS)


def test_terms_and_snippet_centre_on_the_query_words():
    assert query_terms("What are the p53 mutations in Cancer?") == ["p53", "mutations", "cancer"]
    text = "filler words here. " * 40 + "Here p53 mutation drives cancer growth. " + "more filler. " * 40
    cut = snippet(text, query_terms("p53 mutations cancer"), width=120)
    assert "p53 mutation drives cancer" in cut and cut.startswith("… ") and cut.endswith(" …")
    assert len(cut) <= 124
    assert snippet("short text", ["p53"]) == "short text"


def test_traced_run_equals_the_pipeline_and_records_every_stage(tiny_bm25):
    pipeline = ReciprocalRankFusion(tiny_bm25 % 3 >> tiny_bm25, tiny_bm25)
    queries = [Query("a", "p53 cancer"), Query("b", "mutation")]
    final, steps = traced_run(pipeline, queries)
    assert final == pipeline(queries)
    labels = [step.label for step in steps]
    assert labels == stage_labels(pipeline) == ["bm25", "bm25 #2", "bm25 #3", pipeline.name]
    assert steps[0].run == tiny_bm25(queries)  # the first stage's own output, before the cutoff
    assert all(step.seconds >= 0 for step in steps)


def _run(coroutine):
    return asyncio.run(coroutine)


def test_micro_batcher_groups_concurrent_items_and_keeps_their_order():
    sizes: list[int] = []

    def double(items):
        sizes.append(len(items))
        return [2 * item for item in items]

    async def scenario():
        batcher = MicroBatcher(double, BatchingOptions(max_batch=4, max_wait_ms=50, max_queue=100))
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.close()
        return results

    assert _run(scenario()) == [2 * i for i in range(10)]
    assert max(sizes) == 4 and sum(sizes) == 10 and len(sizes) <= 4


def test_full_queue_is_refused_and_the_batcher_recovers():
    gate = threading.Event()

    def gated(items):
        gate.wait(10)
        return items

    async def scenario():
        batcher = MicroBatcher(gated, BatchingOptions(max_batch=1, max_wait_ms=0, max_queue=2))
        first = asyncio.ensure_future(batcher.submit("running"))
        await asyncio.sleep(0.05)  # the worker has taken it: the queue is empty again
        queued = [asyncio.ensure_future(batcher.submit(f"queued {i}")) for i in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError):
            await batcher.submit("one too many")
        gate.set()
        done = [await first, *[await q for q in queued]]
        after = await batcher.submit("after")
        await batcher.close()
        return done, after

    done, after = _run(scenario())
    assert done == ["running", "queued 0", "queued 1"] and after == "after"


def test_a_failing_batch_fails_its_callers_only():
    def fragile(items):
        if "bad" in items:
            raise RuntimeError("boom")
        return items

    async def scenario():
        batcher = MicroBatcher(fragile, BatchingOptions(max_batch=1, max_wait_ms=0))
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit("bad")
        good = await batcher.submit("good")
        await batcher.close()
        return good

    assert _run(scenario()) == "good"


def test_workers_run_batches_at_the_same_time():
    both_running = threading.Barrier(2, timeout=10)  # breaks (and fails the batch) unless two batches overlap

    def meet(items):
        both_running.wait()
        return items

    async def scenario():
        batcher = MicroBatcher(meet, BatchingOptions(max_batch=1, max_wait_ms=0, workers=2))
        results = await asyncio.gather(batcher.submit("a"), batcher.submit("b"))
        await batcher.close()
        return results

    assert _run(scenario()) == ["a", "b"]
