"""Checks a submission's run files before anything is packaged or uploaded.

Every problem names the file and line: a query of the test split with no results, a document listed
twice for a query, ranks that are not 1, 2, 3, ... in order of descending score, a score that is not
a number, a document id that is not in the corpus, more than the allowed depth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

from regard.data.lines import iter_lines
from regard.errors import InputFormatError, RegardError

MAX_SHOWN = 10


class ValidationError(RegardError):
    """A run or package that fails validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n  ".join(problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        super().__init__(f"{len(problems)} problem(s):\n  {shown}{more}")


def validate_run_file(path: str | Path, query_ids: Collection[str], corpus_ids: Collection[str] | None,
                      depth: int | None = 1000) -> list[str]:
    """Problems of the TREC run at ``path`` for these queries and corpus (an empty list when it is valid)."""
    problems: list[str] = []
    seen: dict[str, dict[str, int]] = {}  # qid -> docid -> line
    last: dict[str, tuple[int, float]] = {}  # qid -> (rank, score) of its previous line
    wanted = set(query_ids)
    try:
        lines = list(iter_lines(path))
    except (OSError, InputFormatError) as err:
        return [f"{path}: cannot read the run ({err})"]
    for number, line in lines:
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{number}"
        if len(parts) != 6:
            problems.append(f"{where}: expected 6 columns (qid Q0 docid rank score tag), got {len(parts)}")
            continue
        qid, _, docid, rank_text, score_text, _ = parts
        if qid not in wanted:
            problems.append(f"{where}: query {qid!r} is not a query of this split")
        if corpus_ids is not None and docid not in corpus_ids:
            problems.append(f"{where}: document {docid!r} is not in the corpus")
        docs = seen.setdefault(qid, {})
        if docid in docs:
            problems.append(f"{where}: document {docid!r} is listed twice for query {qid} (first on line {docs[docid]})")
        docs[docid] = number
        problems.extend(_rank_and_score(where, qid, rank_text, score_text, last))
        if depth is not None and len(docs) == depth + 1:
            problems.append(f"{where}: query {qid} has more than {depth} documents")
    missing = sorted(wanted - set(seen))
    if missing:
        problems.append(f"{path}: {len(missing)} of {len(wanted)} queries have no results "
                        f"(first missing: {', '.join(missing[:5])})")
    return problems


def _rank_and_score(where: str, qid: str, rank_text: str, score_text: str,
                    last: dict[str, tuple[int, float]]) -> list[str]:
    problems = []
    try:
        score: float | None = float(score_text)
    except ValueError:
        score = None
        problems.append(f"{where}: score {score_text!r} is not a number")
    if score is not None and not math.isfinite(score):
        score = None
        problems.append(f"{where}: score {score_text!r} is not finite")
    if not rank_text.isdigit():
        return problems + [f"{where}: rank {rank_text!r} is not a positive integer"]
    rank = int(rank_text)
    previous_rank, previous_score = last.get(qid, (0, math.inf))
    last[qid] = (rank, previous_score if score is None else score)  # one bad score does not cascade
    if rank != previous_rank + 1:
        problems.append(f"{where}: rank {rank} of query {qid} follows rank {previous_rank} "
                        "(ranks must run 1, 2, 3, ...)")
    elif score is not None and score > previous_score:
        problems.append(f"{where}: score {score_text} at rank {rank} of query {qid} is higher than at rank "
                        f"{previous_rank} (ranks must follow descending scores)")
    return problems


def validate_package(folder: str | Path) -> dict[str, Any]:
    """Validate a package in regard's layout and re-score it; raises ValidationError listing every problem.

    Returns the metadata. Checks each run against its dataset's test queries and corpus, and that the
    metrics recorded in ``metadata.json`` match a fresh evaluation.
    """
    from regard.submit.package import METADATA_NAME, REQUIRED_METADATA, dataset_view, score_run

    folder = Path(folder)
    path = folder / METADATA_NAME
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError([f"{path}: missing"]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValidationError([f"{path}: not JSON ({err})"]) from None
    problems = [f"{path}: missing field '{name}'" for name in REQUIRED_METADATA if not metadata.get(name)]
    for dataset, entry in sorted((metadata.get("datasets") or {}).items()):
        run_path = folder / entry.get("run_file", "")
        if not run_path.is_file():
            problems.append(f"{path}: run file of {dataset} ({entry.get('run_file')!r}) is not in the package")
            continue
        view = dataset_view(dataset)
        found = validate_run_file(run_path, view.query_ids, view.corpus_ids)
        problems.extend(found)
        if not found:
            scores = score_run(run_path, view)
            for metric, value in scores.items():
                recorded = entry.get("metrics", {}).get(metric)
                if recorded is None or abs(recorded - value) > 1e-6:
                    problems.append(f"{path}: {dataset} {metric} is recorded as {recorded} but the run scores {value:.6f}")
    if problems:
        raise ValidationError(problems)
    return metadata
