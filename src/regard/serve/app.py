"""The ASGI application: search endpoints, documents, health and info, and the results page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict
from typing import Any

from regard.data.types import Query
from regard.errors import MissingExtraError
from regard.pipeline import Stage
from regard.serve.batching import MicroBatcher, QueueFullError
from regard.serve.loading import ServedPipeline, served_pipeline
from regard.serve.options import BatchingOptions, ServiceLimits
from regard.serve.page import PAGE
from regard.serve.results import fetch_documents, search_answer
from regard.serve.trace import stage_labels, traced_run
from regard.serve.validation import BadRequest, parse_search_body, parse_search_params

log = logging.getLogger(__name__)

try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route
except ImportError:  # pragma: no cover - depends on the environment
    raise MissingExtraError("starlette", "serve", "regard serve") from None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the request body has {declared} bytes; the limit is {limit}", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"the request body is larger than the limit of {limit} bytes", status=413)
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise BadRequest(f"the request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None


class SearchService:
    """The pipeline behind the endpoints: batches queries and turns runs into answers."""

    def __init__(self, served: ServedPipeline, limits: ServiceLimits, batching: BatchingOptions):
        self.served, self.limits, self.batching = served, limits, batching
        self.labels = stage_labels(served.stage)
        self.batcher = MicroBatcher(self._run_batch, batching)

    def _run_batch(self, items: list[tuple[str, int]]) -> list[dict]:
        queries = [Query(id=str(i), text=text) for i, (text, _) in enumerate(items)]
        final, steps = traced_run(self.served.stage, queries)
        return [search_answer(text, query.id, k, steps, final.get(query.id, []), self.served.docstores, len(items))
                for query, (text, k) in zip(queries, items)]

    async def search(self, query: str, k: int) -> JSONResponse:
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(self.batcher.submit((query, k)), self.limits.timeout_s)
        except QueueFullError:
            return _error(503, "the service is at capacity: retry shortly",
                          headers={"Retry-After": str(self.limits.retry_after_s)})
        except TimeoutError:
            return _error(504, f"the search took longer than the {self.limits.timeout_s:g} s limit")
        answer["took_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return JSONResponse(answer)

    async def search_post(self, request: Request) -> JSONResponse:
        query, k = parse_search_body(await _read_json(request, self.limits.max_body_bytes), self.limits)
        return await self.search(query, k)

    async def search_get(self, request: Request) -> JSONResponse:
        query, k = parse_search_params(request.query_params, self.limits)
        return await self.search(query, k)

    async def document(self, request: Request) -> JSONResponse:
        docid = request.path_params["docid"]
        # Looked up in the docstores by id, never as a path.
        found = (await run_in_threadpool(fetch_documents, self.served.docstores, [docid])).get(docid)
        if found is None:
            return _error(404, f"no document with id {docid!r}")
        return JSONResponse({"docid": found.id, "title": found.title, "text": found.text})

    async def health(self, request: Request) -> JSONResponse:
        batcher = self.batcher
        return JSONResponse({"status": "ok", "queued": batcher.queued, "in_flight": batcher.in_flight,
                             "batches": batcher.batches, "queries": batcher.batched_items})

    async def info(self, request: Request) -> JSONResponse:
        return JSONResponse({**self.served.info(), "stages": self.labels, "limits": asdict(self.limits),
                             "batching": asdict(self.batching)})

    async def page(self, request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)


def create_app(pipeline: Stage | ServedPipeline, limits: ServiceLimits | None = None,
               batching: BatchingOptions | None = None) -> "Starlette":
    """The ASGI app serving ``pipeline`` (a regard Stage, or what ``load_pipeline`` returns).

    Deploy it with any ASGI server, e.g. ``uvicorn.run(create_app(stage), host="127.0.0.1", port=8080)``.
    ``limits`` bounds ``k``, query length, body size and time per request; ``batching`` sets the
    micro-batch size and wait, the queue bound (503 beyond it) and the pipeline threads.
    """
    service = SearchService(served_pipeline(pipeline), limits or ServiceLimits(), batching or BatchingOptions())

    async def bad_request(request: Request, err: BadRequest) -> JSONResponse:
        return _error(err.status, err.message)

    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return _error(err.status_code, err.detail, headers=getattr(err, "headers", None))

    async def server_error(request: Request, err: Exception) -> JSONResponse:
        log.error("request %s %s failed", request.method, request.url.path, exc_info=err)
        return _error(500, "internal error: the search failed (details are in the server log)")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await service.batcher.close()

    routes = [
        Route("/", service.page, methods=["GET"]),
        Route("/search", service.search_post, methods=["POST"]),
        Route("/search", service.search_get, methods=["GET"]),
        Route("/documents/{docid:path}", service.document, methods=["GET"]),
        Route("/health", service.health, methods=["GET"]),
        Route("/info", service.info, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        BadRequest: bad_request, HTTPException: http_error, Exception: server_error})
    app.state.service = service
    return app
