"""A pool of Ray actors, each holding one object built once from a picklable recipe, mapping batches.

Batches are pulled lazily from the caller's iterator and at most ``workers × in_flight_per_worker``
are submitted and not yet collected. A worker that dies is restarted by Ray (``max_restarts``) and its
calls retried (``max_task_retries``); when Ray gives up on it, the pool starts a replacement actor and
submits the lost batches again, so every batch is done exactly once from the caller's point of view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Hashable

from regard.errors import RegardError
from regard.scale_out.options import RayOptions
from regard.scale_out.ray_runtime import ensure_ray

RAY_RESTARTS = 2


@dataclass(frozen=True)
class Recipe:
    """How to build an object on a worker: ``factory(*args, **kwargs)``; shipped by pickle, built there."""

    factory: Callable[..., Any]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        return self.factory(*self.args, **self.kwargs)


class RecipeWorker:
    """The actor: builds its object once, then calls its methods on the batches it receives."""

    def __init__(self, recipe: Recipe):
        self.target = recipe.build()

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.target, method)(*args)

    def attribute(self, name: str) -> Any:
        return getattr(self.target, name)


@dataclass
class _Pending:
    key: Hashable
    args: tuple
    actor: Any
    attempt: int


class ActorPool:
    """``options.workers`` actors built from ``recipe``; :meth:`map_unordered` spreads calls over them."""

    def __init__(self, recipe: Recipe, options: RayOptions):
        self.ray = ensure_ray()
        self.options = options
        self._remote = self.ray.remote(RecipeWorker).options(
            num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
            max_restarts=RAY_RESTARTS, max_task_retries=RAY_RESTARTS,
        )
        self.recipe = recipe  # passed by value: a restarted actor needs no object-store reference
        self.actors = [self._start() for _ in range(options.workers)]
        self.replacements = 0

    def _start(self):
        return self._remote.remote(self.recipe)

    def attribute(self, name: str) -> Any:
        """Attribute ``name`` of the first worker's object (waits until that worker is built)."""
        return self.ray.get(self.actors[0].attribute.remote(name))

    def map_unordered(self, method: str, batches: Iterable[tuple[Hashable, tuple]]) -> Iterator[tuple[Hashable, Any]]:
        """``(key, worker_object.method(*args))`` for each ``(key, args)`` of ``batches``, as they finish."""
        ray = self.ray
        from ray.exceptions import RayActorError

        limit = self.options.workers * self.options.in_flight_per_worker
        source = iter(batches)
        pending: dict[Any, _Pending] = {}
        load = {id(actor): 0 for actor in self.actors}

        def submit(key: Hashable, args: tuple, attempt: int) -> None:
            actor = min(self.actors, key=lambda a: load.get(id(a), 0))
            load[id(actor)] = load.get(id(actor), 0) + 1
            pending[actor.call.remote(method, *args)] = _Pending(key, args, actor, attempt)

        def fill() -> None:
            while len(pending) < limit:
                item = next(source, None)
                if item is None:
                    return
                submit(item[0], item[1], 1)

        fill()
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ref)
            load[id(job.actor)] -= 1
            try:
                result = ray.get(ref)
            except RayActorError as err:
                if job.attempt >= self.options.attempts:
                    raise RegardError(f"batch {job.key!r} failed on {job.attempt} workers in turn: {err}") from err
                self._replace(job.actor, load)
                submit(job.key, job.args, job.attempt + 1)
                continue
            fill()
            yield job.key, result

    def _replace(self, dead, load: dict[int, int]) -> None:
        """Swap a dead actor for a new one (once, however many of its calls failed)."""
        if dead not in self.actors:
            return
        self.ray.kill(dead, no_restart=True)
        self.actors[self.actors.index(dead)] = replacement = self._start()
        load[id(replacement)] = 0
        self.replacements += 1

    def close(self) -> None:
        """Stop the workers (their resources go back to the cluster)."""
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []

    def __enter__(self) -> "ActorPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
