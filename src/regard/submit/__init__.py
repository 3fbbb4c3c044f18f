"""BEIR leaderboard submissions: package runs with their metadata, validate them, score them locally.

``package.py`` builds the package in regard's own layout (``metadata.json`` and ``runs/DATASET.trec``),
``validate.py`` checks it, and ``layouts.py`` converts it into the layout the leaderboard takes.
"""

from regard.submit.package import OFFICIAL_METRICS, SubmissionSource, build_package, source_from_argument
from regard.submit.validate import ValidationError, validate_package, validate_run_file

__all__ = ["OFFICIAL_METRICS", "SubmissionSource", "ValidationError", "build_package", "source_from_argument",
           "validate_package", "validate_run_file"]
