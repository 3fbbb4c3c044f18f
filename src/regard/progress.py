"""regard's own progress bars, and the libraries' logs and bars kept out of the user's terminal.

A progress bar shows only when standard error is a terminal and the user has not asked for quiet
(``regard --quiet`` or ``REGARD_QUIET=1``). Libraries' loggers stay at WARNING and their own
progress bars stay off, so what the user sees is regard's.
"""

from __future__ import annotations

import logging
import os
import sys

from tqdm.auto import tqdm

QUIET_ENV = "REGARD_QUIET"
LIBRARY_LOGGERS = (
    "bm25s", "transformers", "sentence_transformers", "huggingface_hub", "accelerate", "faiss", "jnius",
    "pyserini", "urllib3", "httpx", "filelock", "gguf", "matplotlib", "PIL",
)


def set_quiet(quiet: bool = True) -> None:
    """Silence (or allow again) regard's progress bars in this process and the processes it starts."""
    if quiet:
        os.environ[QUIET_ENV] = "1"
    else:
        os.environ.pop(QUIET_ENV, None)


def is_quiet() -> bool:
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false", "no")


def progress_enabled() -> bool:
    """Whether a progress bar should show: on a terminal, unless quiet."""
    return not is_quiet() and sys.stderr.isatty()


def progress_bar(iterable=None, *, disable: bool = False, **options) -> tqdm:
    """A tqdm bar on standard error that shows only when :func:`progress_enabled` (and not ``disable``)."""
    return tqdm(iterable, disable=disable or not progress_enabled(), **options)


def quiet_libraries() -> None:
    """Keep libraries' loggers at WARNING and their progress bars off.

    Call it again after importing a library that sets its own level on import (bm25s sets DEBUG).
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    # The hub client warns at every retry of an unreachable host; regard says once what to do instead.
    # It sets its own level when first imported, from this variable.
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
