"""The benchmark report: Markdown with significance marks, PNG plots, and an HTML page a browser renders."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from regard.report import write_report
from regard.report.tables import markdown_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _summary() -> dict:
    depths = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

    def entry(ndcg, seconds, p=None):
        value = {"means": {"ndcg@10": ndcg, "recall@100": ndcg + 0.2}, "seconds_per_query": seconds,
                 "recall_curve": [min(1.0, ndcg * (1 + i / 5)) for i in range(len(depths))]}
        if p is not None:
            value["versus_baseline"] = {m: {"p_ttest": p, "p_permutation": p, "delta": 0.0} for m in ("ndcg@10", "recall@100")}
        return value

    configs = {name: {"hash": f"{i:064x}", "path": f"configs/{name}.yaml", "description": ""}
               for i, name in enumerate(["bm25", "dense", "bm25 | dense"])}
    return {
        "baseline": "bm25", "metrics": ["ndcg@10", "recall@100"], "recall_depths": depths, "configs": configs,
        "datasets": {
            "scifact": {"split": "test", "queries": 300, "pipelines": {
                "bm25": entry(0.6789, 0.03), "dense": entry(0.6472, 0.004, p=0.2), "bm25 | dense": entry(0.7179, 0.035, p=0.001)}},
            "vaswani": {"split": "test", "queries": 93, "pipelines": {
                "bm25": entry(0.4368, 0.01), "dense": entry(0.4000, 0.003, p=0.04), "bm25 | dense": entry(0.47, 0.013, p=0.3)}},
        },
    }


def test_markdown_has_per_dataset_figures_mean_and_marks():
    text = markdown_report(_summary(), {"quality_vs_cost": "q.png"})
    assert "| pipeline | scifact | vaswani | mean | mean s/query |" in text
    assert "| bm25 \\| dense | 0.7179† | 0.4700 | 0.5939 | 0.0240 |" in text
    assert "| dense | 0.6472 | 0.4000† | 0.5236 | 0.0035 |" in text
    assert "significantly different from the baseline bm25" in text and "![quality vs cost](q.png)" in text


def _png_pixels(path: Path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)


def test_plots_are_real_images_with_content(tmp_path):
    paths = write_report(_summary(), tmp_path)
    for key in ("quality_vs_cost", "recall_curves"):
        pixels = _png_pixels(paths[key])
        assert pixels.shape[0] > 300 and pixels.shape[1] > 800  # one panel per dataset (and the mean)
        assert pixels[..., :3].std() > 0.05  # not a blank canvas
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(profile)})


def test_html_page_loads_in_headless_chromium_with_table_and_images(tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium or Chrome on PATH (make test installs Debian's chromium when run as root)")
    paths = write_report(_summary(), tmp_path / "report")
    url = paths["html"].resolve().as_uri()
    dom = _chromium(browser, tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images-loaded="2"' in dom.stdout and 'data-images-failed="0"' in dom.stdout
    assert "<td>0.7179†</td>" in dom.stdout and "<th>vaswani</th>" in dom.stdout

    shot = tmp_path / "screenshot.png"
    taken = _chromium(browser, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2200",
                      "--virtual-time-budget=5000", url)
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    pixels = _png_pixels(shot)
    assert pixels.shape[:2] == (2200, 1280)
    # The figures put colour on the page: blue, orange and green points and lines, not only black text.
    colourful = (pixels[..., :3].max(axis=2) - pixels[..., :3].min(axis=2)) > 0.3
    assert colourful.sum() > 500
    keep = os.environ.get("REGARD_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
