"""An exclusive lock between processes (and threads) on a build target, held through a lock file beside it."""

from __future__ import annotations

import fcntl
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_GUARD = threading.Lock()
_THREAD_LOCKS: dict[Path, threading.RLock] = {}
_HELD: dict[Path, list] = {}  # lock path -> [file descriptor, depth] while this process holds it


def lock_path(target: Path) -> Path:
    """The lock file of ``target``: hidden, beside it."""
    return target.parent / f".{target.name}.lock"


def _acquire(path: Path, announce: str | None) -> int:
    """Open and flock ``path``; retried when the file was replaced or removed while we waited."""
    waited = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if announce and not waited:
                    print(announce, file=sys.stderr, flush=True)
                waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            held = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the previous holder removed the file: lock the new one


@contextmanager
def target_lock(target: str | Path, announce: str | None = None) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (an index folder) for the body; waits while another holds it.

    The lock is re-entrant within a thread, exclusive between threads and processes (``flock`` on
    ``.NAME.lock`` beside the target), and released by the kernel when a holder dies. ``announce`` is
    printed to stderr once if the call has to wait. The lock file is removed on release.
    """
    path = lock_path(Path(target).absolute())
    with _GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(path, threading.RLock())
    with thread_lock:
        entry = _HELD.get(path)
        if entry is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            entry = _HELD[path] = [_acquire(path, announce), 0]
        entry[1] += 1
        try:
            yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[path]
                try:
                    path.unlink(missing_ok=True)  # while still locked, so no one else holds this file
                finally:
                    os.close(entry[0])
