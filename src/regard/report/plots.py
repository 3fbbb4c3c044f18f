"""PNG plots: quality against cost (one point per pipeline) and Recall@k curves, one panel per dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.errors import RegardError
from regard.report.tables import mean_over_datasets, mean_seconds, pipelines


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RegardError("drawing the report's plots needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def NullFormatter():
    from matplotlib.ticker import NullFormatter as formatter

    return formatter()


def _panels(summary: dict[str, Any], with_mean: bool):
    names = list(summary["datasets"])
    if with_mean and len(names) > 1:
        names.append("mean")
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 4.0), squeeze=False)
    return plt, figure, list(zip(names, axes[0]))


def _save(plt, figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path


def plot_quality_vs_cost(summary: dict[str, Any], path: str | Path, metric: str = "ndcg@10") -> Path:
    """nDCG@10 against compute seconds per query (log scale), one labelled point per pipeline."""
    plt, figure, panels = _panels(summary, with_mean=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for title, axis in panels:
        for position, name in enumerate(pipelines(summary)):
            if title == "mean":
                x, y = mean_seconds(summary, name), mean_over_datasets(summary, name, metric)
            else:
                entry = summary["datasets"][title]["pipelines"][name]
                x, y = entry["seconds_per_query"], entry["means"][metric]
            x = max(x, 1e-5)
            axis.scatter([x], [y], s=60, color=colours[position % len(colours)], label=name, zorder=3)
            axis.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        axis.set_xscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())  # decade labels only; minor ones overlap
        axis.set_title(title)
        axis.set_xlabel("seconds per query (log)")
        axis.set_ylabel(metric)
        axis.grid(True, which="both", alpha=0.3)
        axis.margins(x=0.35, y=0.15)
    return _save(plt, figure, Path(path))


def plot_recall_curves(summary: dict[str, Any], path: str | Path) -> Path:
    """Recall@k for k from 1 to 1000 (log scale), one line per pipeline, one panel per dataset."""
    plt, figure, panels = _panels(summary, with_mean=False)
    depths = summary["recall_depths"]
    for title, axis in panels:
        for name in pipelines(summary):
            curve = summary["datasets"][title]["pipelines"][name]["recall_curve"]
            axis.plot(depths, curve, marker="o", markersize=3, label=name)
        axis.set_xscale("log")
        axis.set_ylim(0, 1.02)
        axis.set_title(title)
        axis.set_xlabel("k (log)")
        axis.set_ylabel("Recall@k")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="lower right")
    return _save(plt, figure, Path(path))
