"""The numbers the page shows: one input's forward pass and, per target class, its backward pass.

Everything runs in float64 on a copy of the model in eval mode (dropout off, batch norm on its
running statistics), layer by layer through the model's own ``forward``/``backward`` (glassnet's
hand-written kernels), so the page shows exactly what the library computes, at full precision.

The loss for target class t is the cross-entropy of the model's output taken as logits,
L = -log softmax(s)_t, with dL/ds = softmax(s) - onehot(t); a model whose last layer is Softmax
already outputs probabilities p, and then L = -log p_t, dL/dp = -onehot(t) / p_t.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import backend, nn
from ..diagnostics.flow import trace_forward
from ..errors import InputError
from ..functional import softmax, softmax_loss


def float64_copy(model):
    """A float64 NumPy copy of ``model`` in eval mode (the model itself is left unchanged)."""
    return copy.deepcopy(model).to("cpu", dtype=np.float64).eval()


def ends_in_softmax(model) -> bool:
    """True when the model's last layer is Softmax (its output is probabilities, not logits)."""
    leaves = list(nn.leaf_layers(model))
    return bool(leaves) and isinstance(leaves[-1], nn.Softmax)


def loss_and_grad(output, target: int, probabilities: bool):
    """(L, dL/d output) for one sample's output (1, K) and target class (see the module docstring)."""
    if probabilities:
        dout = np.zeros_like(output)
        dout[0, target] = -1.0 / output[0, target]
        return float(-np.log(output[0, target])), dout
    loss, dout = softmax_loss(output, np.array([target]))
    return float(loss), dout


@dataclass
class Forward:
    """One sample's forward pass: per leaf layer its name, the layer, its input and its output (batch of 1)."""

    x: np.ndarray
    output: np.ndarray
    trace: list
    probs: np.ndarray
    probabilities: bool  # the model outputs probabilities (ends in Softmax) rather than logits


@dataclass
class Backward:
    """The backward pass for one target class (batch of 1, float64)."""

    target: int
    loss: float
    dscores: np.ndarray    # dL/d(model output)
    output_grads: list     # per layer: dL/d(its output)
    layer_input_grads: list  # per layer: dL/d(its input), as its backward returned it
    param_grads: list      # per layer: {parameter name: dL/d(parameter)}

    @property
    def input_grad(self):
        """dL/dx for the model's input."""
        return self.layer_input_grads[0]


def check_input(x):
    """``x`` (one sample, no batch axis) as a float64 batch of one; InputError unless it is finite numbers."""
    x = np.asarray(backend.to_numpy(x))
    if x.dtype.kind not in "fiu" or x.ndim == 0:
        raise InputError(f"explain: expected one input sample as a numeric array without the batch axis, "
                         f"got dtype {x.dtype} and shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError("explain: the input holds NaN or infinite values")
    return x.astype(np.float64)[None]


def forward(model64, x) -> Forward:
    """Run one sample (batch of 1, float64) through the leaves of the float64 model."""
    output, trace = trace_forward(model64, x)
    probabilities = ends_in_softmax(model64)
    if output.ndim != 2:
        raise InputError(f"explain: the model's output has shape {tuple(output.shape)}; "
                         "expected class scores of shape (1, K)")
    probs = output[0] if probabilities else softmax(output, axis=1)[0]
    return Forward(x, output, trace, probs, probabilities)


def backward(model64, fwd: Forward, target: int) -> Backward:
    """Backward of the loss for ``target`` through every layer, from a fresh forward pass."""
    model64.zero_grad()
    fresh = forward(model64, fwd.x)
    loss, d = loss_and_grad(fresh.output, target, fresh.probabilities)
    dscores = d
    output_grads, input_grads = [], []
    for _, layer, _, _ in reversed(fresh.trace):
        output_grads.append(d)
        d = layer.backward(d)
        input_grads.append(d)
    params = [{n: p.grad.copy() for n, p in layer.named_parameters()} for _, layer, _, _ in fresh.trace]
    return Backward(target, loss, dscores, output_grads[::-1], input_grads[::-1], params)
