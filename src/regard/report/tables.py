"""The report's tables: one row per pipeline, per-dataset figures with significance marks, and the mean."""

from __future__ import annotations

from typing import Any

SIGNIFICANCE_LEVEL = 0.05
MARK = "†"


def _mark(entry: dict[str, Any], metric: str) -> str:
    test = entry.get("versus_baseline", {}).get(metric)
    return MARK if test and test["p_ttest"] < SIGNIFICANCE_LEVEL else ""


def pipelines(summary: dict[str, Any]) -> list[str]:
    """Pipeline names in the summary's order (the baseline first)."""
    return list(summary["configs"])


def mean_over_datasets(summary: dict[str, Any], name: str, metric: str) -> float:
    values = [d["pipelines"][name]["means"][metric] for d in summary["datasets"].values()]
    return sum(values) / len(values)


def mean_seconds(summary: dict[str, Any], name: str) -> float:
    values = [d["pipelines"][name]["seconds_per_query"] for d in summary["datasets"].values()]
    return sum(values) / len(values)


def overview_rows(summary: dict[str, Any], metric: str = "ndcg@10") -> tuple[list[str], list[list[str]]]:
    """Header and cells of the overview: ``metric`` per dataset (with marks), the mean, seconds per query."""
    datasets = list(summary["datasets"])
    header = ["pipeline", *datasets, "mean", "mean s/query"]
    rows = []
    for name in pipelines(summary):
        cells = [name]
        for dataset in datasets:
            entry = summary["datasets"][dataset]["pipelines"][name]
            cells.append(f"{entry['means'][metric]:.4f}{_mark(entry, metric)}")
        cells += [f"{mean_over_datasets(summary, name, metric):.4f}", f"{mean_seconds(summary, name):.4f}"]
        rows.append(cells)
    return header, rows


def dataset_rows(summary: dict[str, Any], dataset: str) -> tuple[list[str], list[list[str]]]:
    """Header and cells of one dataset's table: every metric (with marks) and seconds per query."""
    metrics = summary["metrics"]
    rows = []
    for name in pipelines(summary):
        entry = summary["datasets"][dataset]["pipelines"][name]
        rows.append([name, *(f"{entry['means'][m]:.4f}{_mark(entry, m)}" for m in metrics),
                     f"{entry['seconds_per_query']:.4f}"])
    return ["pipeline", *metrics, "s/query"], rows


def footnote(summary: dict[str, Any]) -> str:
    return (f"{MARK} significantly different from the baseline {summary['baseline']} on that dataset "
            f"(paired t-test over queries, p < {SIGNIFICANCE_LEVEL}). s/query: compute seconds per query, "
            "including index look-ups, model inference and every earlier stage; index building excluded.")


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(escape, header)) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in rows]
    return lines


def markdown_report(summary: dict[str, Any], figures: dict[str, str]) -> str:
    """The whole Markdown report: overview, per-dataset tables, configs with their hashes, figures."""
    lines = ["# Benchmark report", "", f"Baseline: **{summary['baseline']}**.", "", "## nDCG@10", ""]
    lines += _markdown_table(*overview_rows(summary))
    lines += ["", footnote(summary), ""]
    for dataset, entry in summary["datasets"].items():
        lines += [f"## {dataset} ({entry['split']}, {entry['queries']} queries)", ""]
        lines += _markdown_table(*dataset_rows(summary, dataset)) + [""]
    lines += ["## Configs", ""]
    lines += _markdown_table(["name", "config", "hash"],
                             [[n, c["path"], c["hash"][:12]] for n, c in summary["configs"].items()])
    lines += ["", "## Figures", ""]
    lines += [f"![{key.replace('_', ' ')}]({path})" for key, path in figures.items()]
    return "\n".join(lines) + "\n"
