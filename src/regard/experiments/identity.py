"""What identifies a cached result besides its parameters: the weights that model names resolve to."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _could_name_a_hub_model(value: Any) -> bool:
    # Hub names are "org/name"; local paths are covered by their files' sizes and dates instead.
    return (isinstance(value, str) and value.count("/") == 1 and "://" not in value and " " not in value
            and not Path(value).exists())


def model_revisions(values: dict[str, Any]) -> dict[str, str]:
    """For each parameter naming a hub model, the revision it resolves to now (snapshot hash or package version).

    A model updated in the Hugging Face cache, or an offline package upgraded, then changes cache keys.
    """
    from regard.models import model_revision

    found = {}
    for name, value in sorted(values.items()):
        if _could_name_a_hub_model(value):
            revision = model_revision(value)
            if revision:
                found[name] = revision
    return found
