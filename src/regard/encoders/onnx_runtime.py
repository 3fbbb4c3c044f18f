"""ONNX Runtime as the engine of a sentence-transformers model's transformer (the ``onnx`` runtime).

The transformer of the loaded model is exported once with ``torch.onnx`` (the installed torch, float32
weights, eager attention, whose graph ONNX Runtime recognises), fused by ONNX Runtime's transformer
optimiser for BERT-like models (one ``Attention`` operator per layer, skip layer norms, bias GELU:
what optimum calls O2), kept under ``$REGARD_CACHE/onnx`` keyed by the model's name, revision (or
weight files' contents) and torch version, and run by ONNX Runtime with all its graph optimisations.
With ``int8`` the fused export is quantised with ONNX Runtime's dynamic quantisation (int8 weights
per output channel, activations quantised per batch). Tokenisation and the modules after the transformer (pooling, dense layers,
normalisation) stay sentence-transformers' own, so only the transformer's arithmetic changes.

Files are written to a temporary name and renamed into place, under the cache entry's lock, so two
processes never see half an export.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from regard.errors import MissingExtraError

# Bumped when the export or quantisation recipe changes, so older cached files are not reused.
RECIPE_VERSION = 4
OPSET = 17


def require_onnx_runtime(purpose: str = "The onnx encoder runtime") -> Any:
    """``onnxruntime``, or a MissingExtraError naming the ``onnx`` extra."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtraError("onnxruntime", "onnx", purpose) from None
    return onnxruntime


def onnx_runtime_available() -> bool:
    """True when both onnxruntime and onnx (which torch's exporter needs) import."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def transformer_module(model) -> Any:
    """The Hugging Face model inside a SentenceTransformer's first module (``model`` in 6.x, ``auto_model`` before)."""
    first = model[0]
    network = getattr(first, "model", None) or getattr(first, "auto_model", None)
    if network is None:
        raise ValueError(f"cannot find the transformer inside {type(first).__name__} to export it to ONNX")
    return network


def _weights_key(location: str, revision: str | None) -> str:
    """The revision when there is one, else a digest of the weight files' contents."""
    if revision:
        return revision
    from regard.data.fingerprint import files_fingerprint

    folder = Path(location)
    weights = sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin") or p.name == "config.json")
    return files_fingerprint(weights) if weights else location


def export_key(name: str, location: str, revision: str | None, inputs: tuple[str, ...], output: str) -> str:
    """The cache key of an export: model, weights, torch version, input and output names, recipe version."""
    import torch

    parts = {"model": name, "weights": _weights_key(location, revision), "torch": torch.__version__,
             "inputs": list(inputs), "output": output, "opset": OPSET, "recipe": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _single_output_module(network, inputs: tuple[str, ...], output: str):
    """``network`` as a module taking ``inputs`` positionally and returning only its ``output`` field."""
    import torch

    class SingleOutput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.network = network

        def forward(self, *tensors):
            return getattr(self.network(**dict(zip(inputs, tensors)), return_dict=True), output)

    return SingleOutput().eval()


def _export(network, inputs: tuple[str, ...], output: str, path: Path) -> None:
    """Export ``network`` (float32) with dynamic batch and sequence axes into ``path``."""
    import torch

    try:
        import onnx  # noqa: F401 - torch's exporter imports it; a clear error before the export starts
    except ImportError:
        raise MissingExtraError("onnx", "onnx", "Exporting the encoder to ONNX") from None
    # The second row is padded: with an all-ones mask, transformers drops the mask before tracing, and the
    # exported graph would ignore padding.
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0
    values = {"input_ids": torch.full((2, 8), 100, dtype=torch.long) * mask, "attention_mask": mask,
              "token_type_ids": torch.zeros((2, 8), dtype=torch.long)}
    example = tuple(values[name] for name in inputs)
    previous = getattr(network.config, "_attn_implementation", None)
    if previous not in (None, "eager") and hasattr(network, "set_attn_implementation"):
        network.set_attn_implementation("eager")  # the pattern ONNX Runtime fuses into its Attention operator
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    axes[output] = {0: "batch", 1: "sequence"} if output == "last_hidden_state" else {0: "batch"}
    # The TorchScript exporter warns about itself (deprecated) and about traced Python conditions that are
    # fixed for every input here (no cache, an explicit mask); the tests compare the graph with torch.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_single_output_module(network, inputs, output), example, str(path), dynamo=False,
                          input_names=list(inputs), output_names=[output], dynamic_axes=axes, opset_version=OPSET,
                          do_constant_folding=True)
    if previous not in (None, "eager") and hasattr(network, "set_attn_implementation"):
        network.set_attn_implementation(previous)


# Model types whose exported graph ONNX Runtime's "bert" optimiser fuses (attention, layer norms, GELU):
FUSABLE_TYPES = ("bert",)  # others run unfused (RoBERTa-like position ids are not checked here)


def _optimize(source: Path, target: Path, config) -> None:
    """ONNX Runtime's offline transformer fusions of ``source`` into ``target`` (a copy where none apply)."""
    import shutil

    if getattr(config, "model_type", None) not in FUSABLE_TYPES:
        shutil.copyfile(source, target)
        return
    from onnxruntime.transformers.optimizer import optimize_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimized = optimize_model(str(source), model_type="bert", num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size), opt_level=0)
        optimized.save_model_to_file(str(target))


# Operators (fused by ONNX Runtime, or plain) whose output is the feed-forward activation.
_ACTIVATIONS = ("BiasGelu", "FastGelu", "Gelu", "QuickGelu", "GemmFastGelu", "Relu")


def activation_fed_matmuls(model) -> list[str]:
    """Names of the MatMul nodes that multiply a feed-forward activation: each layer's output projection
    (the second feed-forward matrix), found by what produces their input, or by the activation module's name
    in the path (``intermediate_act_fn``) where the graph is unfused."""
    producers = {output: node.op_type for node in model.graph.node for output in node.output}
    return [node.name for node in model.graph.node if node.op_type == "MatMul"
            and (producers.get(node.input[0]) in _ACTIVATIONS or "act_fn" in node.input[0])]


def _quantize(source: Path, target: Path) -> None:
    """ONNX Runtime's dynamic int8 quantisation of ``source``: the weights of the MatMuls and of the fused
    Attention operators' input projections (signed int8 per output channel; activations quantised per
    batch), except each layer's feed-forward output projection, which stays float32.

    Why: its input is the GELU activation, whose long positive tail quantises badly per batch. On SciFact
    test (all-MiniLM-L6-v2, 5,183 abstracts, 300 queries; float32 nDCG@10 0.6451) quantising every MatMul
    gave 0.6530 (+0.0080; smallest cosine to float32 0.991 on 128 abstracts); every MatMul but those
    projections 0.6439 (-0.0012; 0.996); that plus the Attention projections, this recipe, 0.6454
    (+0.0003; 0.994) in batches of 32 and 0.6462 (+0.0012) one text per run, as `DenseEncoder` runs it;
    the quantised Attention made it about 8% faster than float32 Attention.
    Activations are quantised per run, so a text's vector would depend on the texts run beside it:
    `DenseEncoder` runs each int8 text alone.
    """
    require_onnx_runtime("int8 quantisation")
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint on the root logger
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Fused operators (com.microsoft) have no inferred output types: float is the default.
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Attention"],
                             nodes_to_exclude=activation_fed_matmuls(onnx.load(str(source), load_external_data=False)),
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def cached_export(network, *, name: str, location: str, revision: str | None, inputs: tuple[str, ...],
                  output: str = "last_hidden_state", int8: bool = False) -> Path:
    """The ONNX file of the Hugging Face model ``network`` (its ``output`` field; float32, or int8 with
    ``int8``), exported on first use."""
    from regard.datasets import cache_root
    from regard.locks import target_lock

    folder = cache_root() / "onnx" / export_key(name, location, revision, inputs, output)
    fp32, quantized = folder / "model.onnx", folder / "model_int8.onnx"
    wanted = quantized if int8 else fp32
    if wanted.exists():
        return wanted
    folder.mkdir(parents=True, exist_ok=True)
    with target_lock(folder, announce=f"waiting for another process exporting into {folder}"):
        if not fp32.exists():
            raw = folder / "export.onnx"
            _atomically(raw, lambda tmp: _export(network, inputs, output, tmp))
            _atomically(fp32, lambda tmp: _optimize(raw, tmp, network.config))
            raw.unlink()
        if int8 and not quantized.exists():
            _atomically(quantized, lambda tmp: _quantize(fp32, tmp))
        (folder / "source.json").write_text(json.dumps({"model": name, "revision": revision}) + "\n")
    return wanted


def _atomically(path: Path, write) -> None:
    """Call ``write(temporary path)`` beside ``path``, then rename the result into place."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def onnx_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session of ``path`` with every graph optimisation, on ``threads`` (default: torch's)."""
    onnxruntime = require_onnx_runtime()
    import torch

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    # Idle threads sleep instead of spinning: batches are long, and a spinning pool takes the cores from
    # every other process on a shared machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# Concurrent batches on one session (see `streams.py`): one per core up to this many; beyond it each stream
# gets several threads, which keeps the activations of all streams in flight within a few hundred MiB.
MAX_STREAMS = 8


class OnnxTransformer:
    """An ONNX Runtime session standing in for a SentenceTransformer's transformer module.

    ``encode_features(features)`` runs the session on features the model's own preprocessing made and
    passes the token embeddings through the model's remaining modules (pooling, dense, normalisation).
    """

    def __init__(self, model, path: Path, threads: int | None = None, streams: int | None = None):
        """``threads``: cores to use (default: torch's); ``streams``: batches run at once, each on
        ``threads // streams`` of them (default one per core, at most ``MAX_STREAMS``; see `streams.py`)."""
        import torch

        threads = threads or torch.get_num_threads()
        self.streams = max(1, min(threads, MAX_STREAMS) if streams is None else streams)
        self.session = onnx_session(path, max(1, threads // self.streams))
        self.inputs = tuple(i.name for i in self.session.get_inputs())
        self.model = model
        self.path = path

    def encode_features(self, features: dict[str, Any]):
        """Sentence embeddings of features the model's own preprocessing made."""
        import torch

        feed = {name: np.ascontiguousarray(features[name].numpy(), dtype=np.int64) for name in self.inputs}
        hidden = self.session.run(None, feed)[0]
        features["token_embeddings"] = torch.from_numpy(hidden)
        for module in list(self.model.children())[1:]:
            features = module(features)
        return features["sentence_embedding"]


def model_inputs(model) -> tuple[str, ...]:
    """The tensor inputs the model's preprocessing produces that its transformer takes (in a fixed order)."""
    features = model.preprocess(["a"])
    return tuple(name for name in ("input_ids", "attention_mask", "token_type_ids") if name in features)
