"""The HTML page: the tables and both figures on one page, with no external resources."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from regard.data.atomic_file import write_text_atomic
from regard.report.tables import dataset_rows, footnote, overview_rows

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1rem 0; } img { max-width: 100%; border: 1px solid #eee; }
.note { color: #555; font-size: 0.9rem; }
"""
# Marks the page once every figure has loaded (or failed): data-images-loaded / data-images-failed.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", String(loaded));
  document.body.setAttribute("data-images-failed", String(images.length - loaded));
});
"""


def _table(header: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_html(summary: dict[str, Any], figures: dict[str, str]) -> str:
    """The page as a string: overview table, per-dataset tables, figures, configs."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>regard benchmark report</title>", f"<style>{_STYLE}</style>",
             f"<script>{_SCRIPT}</script></head><body>",
             "<h1>Benchmark report</h1>",
             f"<p>Baseline: <strong>{html.escape(summary['baseline'])}</strong>.</p>",
             "<h2>nDCG@10</h2>", _table(*overview_rows(summary), "overview"),
             f'<p class="note">{html.escape(footnote(summary))}</p>', "<h2>Figures</h2>"]
    captions = {"quality_vs_cost": "nDCG@10 against compute seconds per query",
                "recall_curves": "Recall@k curves"}
    for key, name in figures.items():
        caption = html.escape(captions.get(key, key))
        parts.append(f'<figure><img src="{html.escape(name)}" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
    for dataset, entry in summary["datasets"].items():
        parts.append(f"<h2>{html.escape(dataset)} ({html.escape(entry['split'])}, {entry['queries']} queries)</h2>")
        parts.append(_table(*dataset_rows(summary, dataset), f"dataset-{html.escape(dataset)}"))
    parts.append("<h2>Configs</h2>")
    rows = [[name, c["path"], c["hash"][:12]] for name, c in summary["configs"].items()]
    parts.append(_table(["name", "config", "hash"], rows, "configs"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(summary: dict[str, Any], figures: dict[str, str], path: str | Path) -> Path:
    path = Path(path)
    write_text_atomic(path, render_html(summary, figures))
    return path
