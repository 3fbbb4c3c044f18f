"""Builds never delete what is not a regard index, and two processes building one target do not collide."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner

from regard.cli.main import cli
from regard.indexing.atomic import staging_dirs
from regard.kinds import Index
from regard.locks import lock_path

SRC = Path(__file__).resolve().parents[2] / "src"

# A build whose bm25 builder records its staging folder, then waits for a "go" file before building.
BUILD_SCRIPT = textwrap.dedent("""
    import dataclasses, functools, sys, time
    from pathlib import Path
    from regard.kinds import KINDS, Index, register

    corpus, target, marker, go = sys.argv[1:5]
    real = KINDS["bm25"].builder

    @functools.wraps(real)  # the same declared parameters
    def gated(staging, docs, fingerprint, **params):
        Path(marker).write_text(str(staging))
        while go != "-" and not Path(go).exists():
            time.sleep(0.05)
        return real(staging, docs, fingerprint, **params)

    register(dataclasses.replace(KINDS["bm25"], builder=gated))
    Index.build(corpus, target, kind="bm25", backend="bm25s", overwrite=True)
""")


def _corpus(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"document {i} on topic {i % 4}"}) + "\n"
                            for i in range(count)))
    return path


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_overwrite_refuses_a_folder_that_is_not_an_index(tmp_path):
    work = tmp_path / "work"
    (work / "figures").mkdir(parents=True)
    (work / "thesis.tex").write_text("\\chapter{Introduction}")
    (work / "figures" / "plot.txt").write_text("1 2 3")
    before = _files(work)
    result = CliRunner().invoke(cli, ["index", str(_corpus(tmp_path, 5)), "--backend", "bm25s", "--out", str(work),
                                      "--overwrite"])
    assert result.exit_code != 0
    assert "not a regard index" in result.output and str(work) in result.output
    assert _files(work) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "work"]


def test_cli_overwrite_replaces_a_regard_index(tmp_path):
    out = tmp_path / "idx"
    args = ["index", str(_corpus(tmp_path, 5)), "--backend", "bm25s", "--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert CliRunner().invoke(cli, args).exit_code != 0  # exists, no --overwrite
    _corpus(tmp_path, 7)
    assert CliRunner().invoke(cli, [*args, "--overwrite"]).exit_code == 0
    assert Index.open(out).manifest.document_count == 7


def _read_until(process: subprocess.Popen, text: str, timeout: float) -> str:
    """stderr of ``process`` up to the first line containing ``text`` ("" if it ends or time runs out first)."""
    seen, deadline = "", time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if not selector.select(timeout=1):
            continue
        line = process.stderr.readline()
        if not line:
            return ""
        seen += line
        if text in line:
            return seen
    return ""


def test_two_processes_building_one_target_take_turns(tmp_path):
    corpus, target = _corpus(tmp_path, 12), tmp_path / "idx"
    script = tmp_path / "build.py"
    script.write_text(BUILD_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    go = tmp_path / "go"

    def start(name: str, gate: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(script), str(corpus), str(target), str(tmp_path / name), gate],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)

    first = start("first.marker", str(go))
    deadline = time.monotonic() + 120
    while not (tmp_path / "first.marker").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "first.marker").exists(), first.stderr.read()
    second = start("second.marker", "-")
    try:
        waited = _read_until(second, "waiting for another build", timeout=120)
        assert waited, "the second builder did not wait for the first"
        assert not (tmp_path / "second.marker").exists()  # it has not started building
        go.write_text("go")
        assert first.wait(timeout=120) == 0, first.stderr.read()
        assert second.wait(timeout=120) == 0, second.stderr.read()
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
    staged = [Path((tmp_path / name).read_text()) for name in ("first.marker", "second.marker")]
    assert staged[0] != staged[1] and all(p.parent == tmp_path for p in staged)
    assert Index.open(target).manifest.document_count == 12
    assert staging_dirs(target) == [] and not lock_path(target).exists()
