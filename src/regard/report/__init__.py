"""Benchmark reports: a Markdown table, PNG plots and an HTML page that shows them together.

All three are drawn from a benchmark's ``summary.json`` (see :mod:`regard.experiments.benchmark`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.data.atomic_file import write_text_atomic
from regard.report.html_page import write_html
from regard.report.plots import plot_quality_vs_cost, plot_recall_curves
from regard.report.tables import markdown_report

__all__ = ["write_report"]


def write_report(summary: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``quality_vs_cost.png``, ``recall_curves.png`` and ``report.html`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "quality_vs_cost": plot_quality_vs_cost(summary, out / "quality_vs_cost.png"),
        "recall_curves": plot_recall_curves(summary, out / "recall_curves.png"),
    }
    markdown = out / "report.md"
    write_text_atomic(markdown, markdown_report(summary, {k: p.name for k, p in figures.items()}))
    page = write_html(summary, {k: p.name for k, p in figures.items()}, out / "report.html")
    return {"markdown": markdown, "html": page, **figures}
