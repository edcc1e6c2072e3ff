"""The page's data: everything it draws, as one JSON-serialisable dict (embedded in the page).

Layout (arrays are ``{"shape", "f64"}`` entries of :mod:`glassnet.explain.arrays`, or, above the
``max_values`` cap, ``{"shape", "omitted": true, "min", "max", "norm"}``)::

    format, version, lang, model {name, dtype, params}, classes, input {label, shape, values},
    scores, probs, predicted, probabilities (model ends in Softmax), default_target, caps,
    layers: [{name, type, text (key of its texts), repr, unit, details, out_shape, params, output,
              weights {name: array}}],
    targets: [{target, loss, dscores, input_grad,
               layers: [{output_grad, weight_grads {name: array} or null, check {...}, torch {...}}]}],
    texts {layers, loss, ui}

``layers[k].output`` is the layer's output for the input; ``targets[t].layers[k].output_grad`` is
dL/d(that output) for target class t, ``weight_grads`` dL/dW of its parameters; ``check`` holds the
sampled numerical gradient check of the layer's backward (see :mod:`glassnet.explain.checks`).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..nn import leaf_layers
from ..errors import InputError
from . import texts
from .arrays import encode, encode_capped
from .checks import check_layer, torch_differences
from .compute import backward, check_input, float64_copy, forward
from .layers import kind_of

FORMAT, VERSION = "glassnet-explain", 1
MAX_VALUES = 200_000
"""Arrays with more values are not embedded (the page shows their shape, range and norm)."""
MAX_CHANNELS = 64
"""Heat maps the page draws per layer (the others are left out with a note)."""
MAX_TARGETS = 10
"""Target classes offered by the selector: all classes up to this many, else the most probable ones."""
GRADIENT_BUDGET = 2_000_000
"""Bytes of gradients embedded for the targets other than the default one (the page size cap): their
output gradients, then their weight gradients, in order of probability, while they fit."""


def _size(entry) -> int:
    return len(entry.get("f64", "")) if isinstance(entry, dict) else 0


def _targets(probs, default, max_targets):
    """The default target first, then the other classes in order of probability (at most max_targets)."""
    order = [int(k) for k in np.argsort(-probs, kind="stable") if k != default]
    return [default] + order[: max_targets - 1]


def _layer_entry(name, layer, x, out, max_values):
    kind = kind_of(layer)
    return {
        "name": name, "type": type(layer).__name__, "text": kind.name, "repr": repr(layer), "unit": kind.unit,
        "details": kind.describe(layer, x[0], out[0]), "out_shape": list(out.shape[1:]),
        "params": layer.num_parameters(), "output": encode_capped(out[0], max_values),
        "weights": {n: encode_capped(p.data, max_values) for n, p in layer.named_parameters()},
    }


def _fit(entry, budget) -> int:
    """Drop the output gradients, then the weight gradients, of a target entry where they exceed
    ``budget`` (set to None: the page says they are not embedded); return the budget left."""
    for key in ("output_grad", "weight_grads"):
        size = sum(_size(e) for layer in entry["layers"]
                   for e in (layer[key].values() if key == "weight_grads" else [layer[key]]))
        if size > budget:
            for layer in entry["layers"]:
                layer[key] = None
        else:
            budget -= size
    return budget


def _target_entry(model64, fwd, back, check_torch, max_values, seed):
    layers = []
    for k, (_, layer, x, _) in enumerate(fwd.trace):
        grads = back.param_grads[k]
        layers.append({
            "output_grad": encode_capped(back.output_grads[k][0], max_values),
            "weight_grads": {n: encode_capped(g, max_values) for n, g in grads.items()},
            "check": check_layer(layer, x, back.output_grads[k], back.layer_input_grads[k], grads, seed),
        })
    entry = {"target": back.target, "loss": back.loss, "dscores": encode(back.dscores[0]),
             "input_grad": encode_capped(back.input_grad[0], max_values), "layers": layers}
    if check_torch:
        per_layer, input_diff, loss_diff = torch_differences(model64, fwd, back)
        for layer, diffs in zip(layers, per_layer):
            layer["torch"] = diffs
        entry["torch"] = {"input_grad": input_diff, "loss": loss_diff}
    return entry


def page_data(model, x, target=None, classes=None, lang="en", check_torch=False, title=None, input_label="input",
              max_values=MAX_VALUES, max_channels=MAX_CHANNELS, max_targets=MAX_TARGETS,
              gradient_budget=GRADIENT_BUDGET, seed=0) -> dict:
    """The data of the page for ``model`` on one input ``x`` (no batch axis); see the module docstring.

    ``target``: class index for the default backward pass (default: the predicted class);
    ``classes``: class names; ``check_torch``: compare with PyTorch autograd (needs PyTorch).
    Raises InputError for an unsupported layer (naming it), a bad input or a bad target. Runs the NumPy
    reference kernels (those the docstrings describe), in float64.
    """
    if lang not in texts.LANGS:
        raise InputError(f"explain: unknown language {lang!r}; choose one of {', '.join(texts.LANGS)}")
    x = check_input(x)
    model64 = float64_copy(model)
    for layer in leaf_layers(model64):
        kind_of(layer)  # refuse an unsupported layer before computing anything
    with kernels.using("numpy"):
        fwd = forward(model64, x)
        n_classes = fwd.output.shape[1]
        classes = [str(c) for c in classes] if classes is not None else [str(k) for k in range(n_classes)]
        if len(classes) != n_classes:
            raise InputError(f"explain: the model outputs {n_classes} scores but {len(classes)} class names were given")
        predicted = int(np.argmax(fwd.probs))
        target = predicted if target is None else int(target)
        if not 0 <= target < n_classes:
            raise InputError(f"explain: target class {target} is out of range: the model has {n_classes} classes "
                             f"(0..{n_classes - 1})")
        layers = [_layer_entry(name, layer, xin, out, max_values) for name, layer, xin, out in fwd.trace]
        targets, budget = [], gradient_budget
        for t in _targets(fwd.probs, target, max_targets):
            entry = _target_entry(model64, fwd, backward(model64, fwd, t), check_torch, max_values, seed)
            if t != target:
                budget = _fit(entry, budget)
            targets.append(entry)
    dtypes = sorted({str(p.dtype) for p in model.parameters()}) or ["float64"]
    return {
        "format": FORMAT, "version": VERSION, "lang": lang,
        "model": {"name": title or type(model).__name__, "dtype": "/".join(dtypes), "params": model.num_parameters()},
        "classes": classes,
        "input": {"label": str(input_label), "shape": list(x.shape[1:]), "values": encode(x[0])},
        "scores": encode(fwd.output[0]), "probs": encode(fwd.probs), "predicted": predicted,
        "probabilities": fwd.probabilities, "default_target": target,
        "caps": {"max_values": max_values, "max_channels": max_channels},
        "layers": layers, "targets": targets,
        "texts": {"layers": texts.LAYERS, "loss": texts.LOSS, "ui": texts.UI},
    }
