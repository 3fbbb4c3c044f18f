"""Only regard's own progress bars show, only on a terminal, and --quiet silences them; libraries stay quiet."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from regard import progress


def test_bm25s_build_prints_no_library_logs_or_bars(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"protein {i} folding"}) + "\n" for i in range(10)))
    done = subprocess.run(
        [sys.executable, "-m", "regard.cli", "index", str(corpus), "--out", str(tmp_path / "idx"), "--backend", "bm25s"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "DEBUG" not in output and "it/s" not in output and "%|" not in output, output
    assert output.strip().startswith("built bm25 index (bm25s) of 10 documents")


def test_bm25s_logger_is_back_at_warning_after_import():
    from regard.indexing.bm25s_backend import _modules

    _modules()
    assert logging.getLogger("bm25s").getEffectiveLevel() >= logging.WARNING


class _Terminal:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text):
        return len(text)

    def flush(self):
        pass


@pytest.mark.parametrize("tty, quiet, shown", [(True, False, True), (True, True, False), (False, False, False)])
def test_progress_bars_show_only_on_a_terminal_and_not_when_quiet(monkeypatch, tty, quiet, shown):
    monkeypatch.setattr(sys, "stderr", _Terminal(tty))
    monkeypatch.setenv(progress.QUIET_ENV, "")  # restored after the test, whatever set_quiet does
    if quiet:
        progress.set_quiet()
    bar = progress.progress_bar(total=3, desc="x", file=sys.stderr)
    assert bar.disable is (not shown)
    bar.close()


def test_quiet_flag_of_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regard.cli.main import cli

    monkeypatch.setenv(progress.QUIET_ENV, "")  # restored after the test, whatever set_quiet does
    result = CliRunner().invoke(cli, ["--quiet", "datasets", "list"])
    assert result.exit_code == 0, result.output
    assert progress.is_quiet()


def test_an_unreachable_hub_model_is_one_clear_line(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "d1", "text": "protein folding"}) + "\n")
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(
        [sys.executable, "-m", "regard.cli", "index", str(corpus), "--kind", "dense", "--model",
         "example-org/no-such-encoder", "--out", str(tmp_path / "idx")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: model 'example-org/no-such-encoder' is not a local folder")
    assert "HF_HUB_OFFLINE" in lines[0] and "huggingface-cli download" in lines[0]
    assert not (tmp_path / "idx").exists()
