"""``--ray``, ``--workers``, ``--cpus-per-worker`` and ``--gpus-per-worker``, shared by index, eval and run."""

from __future__ import annotations

import click


def ray_options(function):
    """Add the Ray options to a command (parameters ``ray``, ``workers``, ``cpus_per_worker``, ``gpus_per_worker``)."""
    options = [
        click.option("--ray", "ray", is_flag=True,
                     help="Run the heavy map (encoding, reranking) on Ray: the cluster at RAY_ADDRESS, else a local "
                          "one (needs: pip install 'regard[ray]'; see docs/SCALING_OUT.md)."),
        click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                     help="With --ray: worker actors, each holding one copy of the model."),
        click.option("--cpus-per-worker", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="With --ray: CPUs each worker reserves."),
        click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="With --ray: GPUs each worker reserves (a fraction shares one GPU)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def ray_options_from(ray: bool, workers: int, cpus_per_worker: float, gpus_per_worker: float):
    """The ``RayOptions`` the flags ask for (None without ``--ray``); fails at once when Ray is missing."""
    if not ray:
        return None
    from regard.scale_out.options import RayOptions
    from regard.scale_out.ray_runtime import require_ray

    require_ray()
    return RayOptions(workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker)
