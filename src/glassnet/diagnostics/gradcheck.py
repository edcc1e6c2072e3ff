"""Numerical gradient checking with central differences (always in float64).

For f: R^n -> R^m and an upstream gradient g, the analytic backward gives J^T g; numerically,
    (J^T g)_i ~ sum_k g_k (f(x + h e_i)_k - f(x - h e_i)_k) / (2h),
with error O(h^2). The check reports the relative error ||a - n|| / max(||a|| + ||n||, tiny).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend


def numerical_gradient(f, x, dout, h=1e-6):
    """Central-difference estimate of d(sum(f(x) * dout)) / dx; ``x`` is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        x[i] = old - h
        minus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    """||a - b|| / max(||a|| + ||b||, 1e-30): 0 for identical arrays, ~1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-30))


@dataclass
class GradcheckResult:
    """Relative error of the analytic gradient for each checked input/parameter name."""

    name: str
    errors: dict

    @property
    def max_error(self) -> float:
        return max(self.errors.values()) if self.errors else 0.0

    def passed(self, tol=1e-6) -> bool:
        return self.max_error < tol


def check_function(forward, backward, inputs, names=None, seed=0, h=1e-6, name="function"):
    """Check ``backward`` of a functional kernel pair against central differences.

    forward(*inputs) -> (out, cache); backward(dout, cache) -> gradient or tuple of gradients,
    the first ones belonging to the inputs given (extra gradients, e.g. of parameters the forward
    closes over, are not checked). Inputs are float64 NumPy arrays.
    """
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out, cache = forward(*inputs)
    dout = np.random.default_rng([seed, 0x6C]).standard_normal(np.shape(out))
    grads = backward(dout, cache)
    grads = (grads if isinstance(grads, tuple) else (grads,))[: len(inputs)]
    names = names or [f"d{i}" for i in range(len(grads))]
    errors = {}
    for k, (g, label) in enumerate(zip(grads, names)):

        def f(v, k=k):
            args = list(inputs)
            args[k] = v
            return forward(*args)[0]

        errors[label] = relative_error(g, numerical_gradient(f, inputs[k], dout, h))
    return GradcheckResult(name, errors)


def check_loss(loss_fn, scores, target, h=1e-6, name="loss"):
    """Check the (loss, dscores) pair of a loss function against central differences of the loss."""
    scores = np.array(scores, dtype=np.float64)
    _, dscores = loss_fn(scores, target)
    num = numerical_gradient(lambda s: loss_fn(s, target)[0], scores, np.float64(1.0), h)
    return GradcheckResult(name, {"dscores": relative_error(dscores, num)})


def check_module(module, x, seed=0, h=1e-6, name=None):
    """Check a Module's backward w.r.t. its input and every parameter (float64, CPU).

    Stochastic layers must be deterministic for this (eval mode, or p = 0). Batch norm in train mode
    would update running statistics on every probe, so they are restored after the check.
    """
    if backend.get_default_dtype() != np.float64 or any(p.dtype != np.float64 for p in module.parameters()):
        raise ValueError("check_module needs a float64 module: build it under glassnet.backend.default_dtype(np.float64)")
    saved = {k: np.array(v) for k, v in module.named_buffers()}

    def restore():
        module.load_state_dict({**module.state_dict(), **saved})

    x = np.array(x, dtype=np.float64)
    out = module.forward(x)
    dout = np.random.default_rng([seed, 0x6C]).standard_normal(out.shape)
    module.zero_grad()
    dx = module.backward(dout)
    analytic = {"input": dx, **{n: p.grad.copy() for n, p in module.named_parameters()}}

    def run(_):
        restore()
        return module.forward(x)

    errors = {"input": relative_error(dx, numerical_gradient(run, x, dout, h))}
    for pname, p in module.named_parameters():
        errors[pname] = relative_error(analytic[pname], numerical_gradient(run, p.data, dout, h))
    restore()
    return GradcheckResult(name or type(module).__name__, errors)
