"""``regard serve``: a pipeline as an HTTP search service with a results page (needs ``regard[serve]``).

``create_app(pipeline)`` returns the ASGI app for any ASGI server; ``load_pipeline(spec)`` opens an
index folder, a pipeline expression or a YAML config as ``regard serve`` does.
"""

from regard.serve.loading import ServedPipeline, load_pipeline
from regard.serve.options import BatchingOptions, ServiceLimits


def create_app(pipeline, limits=None, batching=None):
    """The ASGI app serving ``pipeline``; see :func:`regard.serve.app.create_app`."""
    from regard.serve.app import create_app as _create_app

    return _create_app(pipeline, limits=limits, batching=batching)


__all__ = ["BatchingOptions", "ServedPipeline", "ServiceLimits", "create_app", "load_pipeline"]
