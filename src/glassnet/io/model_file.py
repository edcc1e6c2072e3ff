"""Save and load whole models: architecture as JSON plus weights, in one checksummed safetensors file.

The architecture is a tree of ``{"type": LayerName, "config": {...}}`` nodes (``Sequential`` nodes
have ``"layers"``), rebuilt only from the layer classes in :data:`glassnet.nn.LAYERS`: loading runs
no code from the file, and an unknown layer type is refused.
"""
from __future__ import annotations

import numpy as np

from .. import backend, nn
from .tensors import ModelFileError, read, write

FORMAT = "glassnet-model"
VERSION = 1


def architecture(model: nn.Module) -> dict:
    """The JSON description of ``model`` (Sequential trees of the layers in glassnet.nn.LAYERS)."""
    if isinstance(model, nn.Sequential):
        return {"type": "Sequential", "layers": [architecture(m) for m in model]}
    cls = type(model).saves_as or type(model)
    name = cls.__name__
    if nn.LAYERS.get(name) is not cls:
        raise ValueError(f"cannot describe {name}: only Sequential models of glassnet.nn layers can be saved")
    return {"type": name, "config": model.get_config()}


def build(spec: dict, where: str = "model") -> nn.Module:
    """Rebuild a model from its JSON description (no weights); refuses unknown layer types."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ModelFileError(f"{where}: expected an object with a 'type', got {spec!r:.80}")
    kind = spec["type"]
    if kind == "Sequential":
        layers = spec.get("layers", [])
        if not isinstance(layers, list):
            raise ModelFileError(f"{where}: 'layers' of a Sequential must be a list, got {type(layers).__name__}")
        return nn.Sequential(*(build(s, f"{where}.{i}") for i, s in enumerate(layers)))
    cls = nn.LAYERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ModelFileError(f"{where}: unknown layer type {kind!r}; known types: {', '.join(sorted(nn.LAYERS))}")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: the config of {kind} must be an object, got {type(config).__name__}")
    try:
        return cls(**config)
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"{where}: bad configuration for {kind}: {exc}") from exc


def save(model: nn.Module, path, metadata: dict | None = None):
    """Write ``model`` (architecture, parameters, buffers) and JSON ``metadata`` to ``path`` atomically."""
    state = model.state_dict()
    dtype = str(next(iter(state.values())).dtype) if state else str(backend.get_default_dtype())
    document = {"format": FORMAT, "version": VERSION, "architecture": architecture(model),
                "dtype": dtype, "metadata": metadata or {}}
    write(path, state, document)


def load(path, return_metadata: bool = False):
    """Rebuild the model saved at ``path`` on the active backend (and its metadata if asked)."""
    arrays, document = read(path)
    if document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a glassnet model file (format {document.get('format')!r}, expected {FORMAT!r})")
    if document.get("version", 0) > VERSION:
        raise ModelFileError(f"{path}: written by a newer glassnet (format version {document['version']} > {VERSION})")
    if "architecture" not in document:
        raise ModelFileError(f"{path}: the model file has no 'architecture'")
    try:
        dtype = np.dtype(document.get("dtype", "float32"))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: unknown parameter dtype {document.get('dtype')!r}: {exc}") from exc
    if dtype not in (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)):
        raise ModelFileError(f"{path}: unsupported parameter dtype {dtype} (expected float16, float32 or float64)")
    with backend.default_dtype(dtype):
        model = build(document["architecture"])
    try:
        model.load_state_dict(arrays)
    except ValueError as exc:
        raise ModelFileError(f"{path}: weights do not match the architecture: {exc}") from exc
    return (model, document.get("metadata", {})) if return_metadata else model
