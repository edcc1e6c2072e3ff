"""Gradient flow and sparsity: what a network's layers do to the signal, measured.

- :func:`gradient_flow` runs one forward/backward pass layer by layer and reports, per layer, the
  norm of the gradient of its weight, ``||dL/dW_l||``, and of its input, ``||dL/dx_l||``. In a deep
  sigmoid network both shrink towards the input (each sigmoid multiplies the backward signal by
  sigma'(z) <= 1/4); with ReLU and He initialisation they stay of the same order.
- :func:`activation_sparsity` reports, per activation layer, the fraction of *active* units (those
  whose pre-activation z is positive: ReLU output > 0, sigmoid output > 1/2, tanh output > 0) and the
  fraction of outputs that are exactly zero.
- :func:`weight_sparsity` reports, per weight, the fraction of entries with ``|w| < threshold``.

Layers are the *leaves* of a model: a Sequential is expanded recursively, any other module is one
layer. Names are the dotted module names (``"3"``, ``"block.1"``) as in ``named_parameters``.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import backend
from ..nn import LeakyReLU, ReLU, Sigmoid, Tanh, named_leaf_layers

ACTIVATIONS = (ReLU, LeakyReLU, Sigmoid, Tanh)
"""Layer types :func:`activation_sparsity` looks at (each is "active" where its input is > 0)."""


def _norm(a) -> float:
    xp = backend.array_module(a)
    return float(xp.sqrt(xp.sum(xp.square(a.astype("float64")))))


def trace_forward(model, x):
    """Run ``x`` through the leaves of ``model``; return ``(output, [(name, layer, input, output)])``.

    The forward runs in the model's current mode (train or eval) and leaves every layer's cache in
    place, so ``model.backward`` (or a layer-by-layer backward) may follow.
    """
    trace = []
    h = x
    for name, layer in named_leaf_layers(model):
        out = layer.forward(h)
        trace.append((name, layer, h, out))
        h = out
    return h, trace


def weight_grad_norms(model, min_ndim: int = 2) -> "OrderedDict[str, float]":
    """``||p.grad||`` of every parameter with at least ``min_ndim`` axes (default: weights, not biases)."""
    return OrderedDict((n, _norm(p.grad)) for n, p in model.named_parameters() if p.data.ndim >= min_ndim)


def gradient_flow(model, loss_fn, x, y) -> dict:
    """One forward/backward pass of ``(x, y)``, measuring how the gradient travels back.

    Returns ``{"loss": float, "weight_grad": {name: ||dL/dW||}, "input_grad": {layer: ||dL/d input||}}``
    with layers in forward order. Gradients are zeroed first, so ``p.grad`` afterwards holds exactly
    this batch's gradient. The pass runs in the model's current mode.
    """
    model.zero_grad()
    out, trace = trace_forward(model, x)
    loss, d = loss_fn(out, y)
    input_grad = OrderedDict()
    for name, layer, _, _ in reversed(trace):
        d = layer.backward(d)
        input_grad[name] = _norm(d)
    return {"loss": float(loss), "weight_grad": weight_grad_norms(model),
            "input_grad": OrderedDict(reversed(list(input_grad.items())))}


def activation_sparsity(model, x, kinds=ACTIVATIONS) -> "OrderedDict[str, dict]":
    """Per activation layer: ``{"active": fraction of z > 0, "zero": fraction of outputs == 0}``.

    Measured on inputs ``x`` in eval mode (dropout off, batch norm on running statistics); the
    model's mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        _, trace = trace_forward(model, backend.asarray(x))
    finally:
        model.train(was_training)
    stats = OrderedDict()
    for name, layer, z, out in trace:
        if isinstance(layer, kinds):
            xp = backend.array_module(z)
            stats[name] = {"active": float(xp.mean(z > 0)), "zero": float(xp.mean(out == 0))}
    return stats


def fraction_below(arrays, threshold: float = 1e-3) -> float:
    """Share of all entries of ``arrays`` (one array or several) with ``|value| < threshold``."""
    arrays = [arrays] if hasattr(arrays, "shape") else list(arrays)
    total = sum(int(a.size) for a in arrays)
    small = sum(int((backend.array_module(a).abs(a) < threshold).sum()) for a in arrays)
    return small / total if total else 0.0


def weight_sparsity(model, threshold: float = 1e-3, min_ndim: int = 2) -> "OrderedDict[str, float]":
    """Per weight (parameters with at least ``min_ndim`` axes), the fraction of ``|w| < threshold``;
    the key ``"all"`` holds the fraction over every such weight together."""
    weights = [(n, p.data) for n, p in model.named_parameters() if p.data.ndim >= min_ndim]
    stats = OrderedDict((n, fraction_below(w, threshold)) for n, w in weights)
    stats["all"] = fraction_below([w for _, w in weights], threshold)
    return stats
