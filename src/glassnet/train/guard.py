"""The NaN/Inf guard: when training diverges, find the first layer whose output or gradient went bad."""
from __future__ import annotations

from ..backend import array_module
from ..errors import GlassnetError
from ..nn import leaf_layers


class TrainingDiverged(GlassnetError, RuntimeError):
    """The loss or a gradient became NaN or infinite; the message names the first bad layer."""


def _finite(a) -> bool:
    return bool(array_module(a).isfinite(a).all())


def all_finite(loss, parameters) -> bool:
    """True if the loss and every parameter gradient are finite."""
    return _finite(loss) and all(_finite(p.grad) for p in parameters)


def locate_divergence(model, loss_fn, x, y) -> str:
    """Re-run the batch layer by layer and say where the first non-finite value appears.

    Forward: the first layer whose output has NaN/Inf (or whose parameters already do); then the
    loss; then backward, in reverse order, the first layer whose input gradient or parameter
    gradient is non-finite.
    """
    layers = list(leaf_layers(model))
    h = x
    if not _finite(x):
        return "the input batch itself contains NaN/Inf"
    for layer in layers:
        bad = [n for n, p in layer.named_parameters() if not _finite(p.data)]
        if bad:
            return f"parameters {bad} of {layer.describe()} are already NaN/Inf"
        h = layer.forward(h)
        if not _finite(h):
            return f"the output of {layer.describe()} became NaN/Inf in the forward pass"
    loss, d = loss_fn(h, y)
    if not _finite(loss):
        return f"the loss {type(loss_fn).__name__} became {float(loss)} on finite scores"
    for layer in reversed(layers):
        for p in layer.parameters():
            p.zero_grad()
        d = layer.backward(d)
        bad = [n for n, p in layer.named_parameters() if not _finite(p.grad)]
        if bad:
            return f"the gradient of {bad} in {layer.describe()} became NaN/Inf in the backward pass"
        if not _finite(d):
            return f"the input gradient of {layer.describe()} became NaN/Inf in the backward pass"
    return "a regularizer's gradient became NaN/Inf (every layer's own gradients are finite)"
