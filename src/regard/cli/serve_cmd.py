"""``regard serve``: a pipeline behind an HTTP API, with a results page at ``/``."""

from __future__ import annotations

import click


@click.command("serve")
@click.argument("pipeline")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told otherwise).")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Pipeline threads running batches at once.")
@click.option("--dataset", default=None, help="For a YAML pipeline config: the dataset its indexes are built for.")
@click.option("--depth", type=click.IntRange(1), default=1000, show_default=True,
              help="Documents each retriever of an index folder or expression returns.")
@click.option("--max-batch", type=click.IntRange(1), default=32, show_default=True,
              help="Most queries run together in one batch.")
@click.option("--max-wait-ms", type=click.FloatRange(0), default=5.0, show_default=True,
              help="How long a query waits for others to join its batch.")
@click.option("--max-queue", type=click.IntRange(1), default=256, show_default=True,
              help="Queries that may wait; beyond it the service answers 503 with Retry-After.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True,
              help="Seconds a request may take before it is answered 504.")
@click.option("--max-k", type=click.IntRange(1), default=100, show_default=True, help="Largest k a request may ask for.")
@click.option("--device", default=None, help="Device for model stages of a config (cpu, cuda).")
def command(pipeline: str, host: str, port: int, workers: int, dataset: str | None, depth: int, max_batch: int,
            max_wait_ms: float, max_queue: int, timeout_s: float, max_k: int, device: str | None) -> None:
    """Serve PIPELINE (an index folder, a pipeline expression or a YAML config) over HTTP.

    POST /search {"query": "...", "k": 10}, GET /search?q=...&k=..., GET /documents/ID, GET /health,
    GET /info, and a results page at GET /.
    """
    from regard.serve import BatchingOptions, ServiceLimits, create_app, load_pipeline

    try:
        import uvicorn
    except ImportError:
        from regard.errors import MissingExtraError

        raise MissingExtraError("uvicorn", "serve", "regard serve") from None
    served = load_pipeline(pipeline, dataset=dataset, depth=depth, device=device)
    app = create_app(served, limits=ServiceLimits(max_k=max_k, timeout_s=timeout_s),
                     batching=BatchingOptions(max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue,
                                              workers=workers))
    click.echo(f"serving {served.description} on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
