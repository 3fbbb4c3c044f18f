"""Ray, imported lazily and started once: the cluster at ``RAY_ADDRESS`` when set, else a local one."""

from __future__ import annotations

import logging
import os

from regard.errors import MissingExtraError

ADDRESS_ENV = "RAY_ADDRESS"
# Ray's failure signal handler replaces the JVM's SIGSEGV handler, which the JVM needs for its own
# null checks: a process that searched Lucene and then started Ray died at its next search (signal 11).
SIGNAL_HANDLER_ENV = "RAY_DISABLE_FAILURE_SIGNAL_HANDLER"


def require_ray():
    """The ``ray`` module, or MissingExtraError naming the ``ray`` extra."""
    os.environ.setdefault(SIGNAL_HANDLER_ENV, "1")
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "ray", "Running on a Ray cluster (--ray)") from None
    return ray


def ensure_ray():
    """Ray, initialised: connected to ``RAY_ADDRESS`` (Ray's own convention) or a new local cluster.

    Idempotent: a process that already called ``ray.init`` (a test, a notebook) keeps its cluster.
    """
    ray = require_ray()
    if not ray.is_initialized():
        # "local" starts a cluster in this process even when another one runs on the machine.
        address = os.environ.get(ADDRESS_ENV)
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
    return ray
