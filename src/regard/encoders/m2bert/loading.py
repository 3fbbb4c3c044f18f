"""Loading and saving M2-BERT checkpoints in the published layout, without ``trust_remote_code``.

A checkpoint is a folder (or a hub repository) with ``config.json`` and the weights, either
``model.safetensors`` or ``pytorch_model.bin``. The published repositories ship only
``pytorch_model.bin``; it is read with ``torch.load(weights_only=True)``, which unpickles tensors and
plain containers only and refuses arbitrary objects. Keys may carry the prefixes the published
wrappers add (``bert.``, ``model.``, ``module.``); heads regard does not use (classifier, MLM) and
the position-id buffer are ignored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from regard.encoders.m2bert.config import M2BertConfig
from regard.encoders.m2bert.layers import M2BertModel
from regard.errors import RegardError
from regard.models import ResolvedModel, resolve_model

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_PREFIXES = ("module.", "model.", "bert.")
_IGNORED = ("classifier.", "cls.", "embeddings.position_ids", "embeddings.token_type_ids", "dropout.")
TOKENIZER_FALLBACK = "bert-base-uncased"


@dataclass
class LoadedCheckpoint:
    model: M2BertModel
    config: M2BertConfig
    folder: Path
    resolved: ResolvedModel


def checkpoint_folder(name_or_path: str, revision: str | None = None) -> tuple[Path, ResolvedModel]:
    """The local folder of a checkpoint: a path, the Hugging Face cache, or a download from the hub."""
    resolved = resolve_model(name_or_path)
    if resolved.source != "hub":
        return Path(resolved.location), resolved
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        raise RegardError("downloading an M2-BERT checkpoint needs huggingface_hub") from None
    patterns = ["config.json", "*.safetensors", "pytorch_model.bin", "tokenizer*", "vocab.txt",
                "special_tokens_map.json"]
    try:
        folder = Path(snapshot_download(resolved.name, revision=revision, allow_patterns=patterns))
    except Exception as error:
        raise RegardError(f"cannot fetch M2-BERT checkpoint {resolved.name!r} from the hub ({error}); "
                          "pass a local folder with config.json and the weights") from None
    return folder, ResolvedModel(name=resolved.name, location=str(folder), source="hub", revision=folder.name)


def read_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """The weights in ``folder``: safetensors preferred, else ``pytorch_model.bin`` (tensors only)."""
    safetensors_file = folder / "model.safetensors"
    if safetensors_file.exists():
        from safetensors.torch import load_file

        return load_file(str(safetensors_file))
    binary = folder / "pytorch_model.bin"
    if binary.exists():
        state = torch.load(binary, map_location="cpu", weights_only=True)
        return state.get("state_dict", state) if isinstance(state, dict) else state
    raise RegardError(f"{folder}: no weights ({' or '.join(WEIGHT_FILES)})")


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def load_weights(model: M2BertModel, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy published-layout weights into ``model``; raises when any of the model's tensors is missing.

    Tensors the network shares under several names (the filter MLPs' sine frequency) are filled from
    whichever of their names the checkpoint holds, so checkpoints that store a shared tensor once
    (safetensors) load as well as those that store every alias (``torch.save``).
    """
    own = model.state_dict(keep_vars=True)
    incoming: dict[str, torch.Tensor] = {}
    unexpected = []
    for key, tensor in state.items():
        name = _strip(key)
        if name in own:
            incoming[name] = tensor
        elif not name.startswith(_IGNORED) and "flashfft" not in name:
            unexpected.append(key)
    aliases: dict[int, list[str]] = {}
    for name, tensor in own.items():
        aliases.setdefault(id(tensor), []).append(name)
    for names in aliases.values():
        present = [n for n in names if n in incoming]
        for name in names:
            if name not in incoming and present:
                incoming[name] = incoming[present[0]]
    missing = [name for name in own if name not in incoming]
    if missing:
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise RegardError(f"{source}: {len(missing)} M2-BERT weights missing ({shown}); "
                          "is this an M2-BERT checkpoint with the same configuration?")
    for name, tensor in incoming.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise RegardError(f"{source}: {name} has shape {tuple(tensor.shape)}, "
                              f"the configuration expects {tuple(own[name].shape)}")
    if unexpected:
        logger.warning("%s: ignoring %d unexpected tensors (%s)", source, len(unexpected), ", ".join(unexpected[:5]))
    with torch.no_grad():
        for name, tensor in incoming.items():
            own[name].copy_(tensor.to(own[name].dtype))


def load_checkpoint(name_or_path: str, revision: str | None = None) -> LoadedCheckpoint:
    """Build the network from ``config.json`` and load its weights (from a folder or the hub)."""
    folder, resolved = checkpoint_folder(name_or_path, revision)
    config_file = folder / "config.json"
    if not config_file.exists():
        raise RegardError(f"{folder}: no config.json")
    config = M2BertConfig.from_file(config_file)
    model = M2BertModel(config)
    load_weights(model, read_state_dict(folder), source=str(folder))
    model.eval()
    return LoadedCheckpoint(model, config, folder, resolved)


def load_tokenizer(folder: Path, max_length: int | None = None):
    """M2-BERT's tokenizer: bert-base-uncased word pieces, from the checkpoint folder when it has them."""
    from transformers import BertTokenizerFast

    has_vocab = any((folder / name).exists() for name in ("tokenizer.json", "vocab.txt"))
    location = str(folder) if has_vocab else resolve_model(TOKENIZER_FALLBACK).location
    options = {"model_max_length": max_length} if max_length else {}
    return BertTokenizerFast.from_pretrained(location, **options)


def is_m2bert_checkpoint(name_or_path: str) -> bool:
    """Whether ``name_or_path`` names an M2-BERT model (by its local config, else by its hub name)."""
    resolved = resolve_model(name_or_path)
    config_file = Path(resolved.location) / "config.json"
    if resolved.source != "hub" and config_file.exists():
        try:
            data = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return data.get("model_type") == "m2_bert" or "long_conv_l_max" in data
    return "m2-bert" in resolved.name.lower()


def save_checkpoint(model: M2BertModel, folder: str | Path, tokenizer=None, fmt: str = "safetensors") -> Path:
    """Write ``model`` as a published-layout checkpoint: ``config.json`` and ``bert.``-prefixed weights.

    ``fmt="safetensors"`` writes ``model.safetensors`` (shared tensors stored once); ``fmt="bin"``
    writes ``pytorch_model.bin`` with every key, as the published repositories do.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    state = {f"bert.{name}": tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        seen: dict[int, str] = {}
        unique = {}
        for key, tensor in state.items():
            if tensor.data_ptr() in seen:
                continue
            seen[tensor.data_ptr()] = key
            unique[key] = tensor.clone()
        save_file(unique, str(folder / "model.safetensors"), metadata={"format": "pt"})
    elif fmt == "bin":
        torch.save(state, folder / "pytorch_model.bin")
    else:
        raise ValueError(f"fmt must be 'safetensors' or 'bin', got {fmt!r}")
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder
