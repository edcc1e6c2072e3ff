"""Fully connected (affine) layer: ``out = x @ w + b``."""
from __future__ import annotations

import numpy as np

from . import _numba


def affine_forward(x, w, b):
    """Affine map of flattened inputs.

    out[n, m] = sum_d x[n, d] * w[d, m] + b[m]

    x: (N, d_1, ..., d_k), flattened to (N, D) with D = d_1*...*d_k; w: (D, M); b: (M,).
    Returns out (N, M) and cache (x, w).
    """
    if x.ndim < 2:
        raise ValueError(f"affine_forward: expected input of shape (N, ...) with at least 2 axes, got {tuple(x.shape)}")
    x2 = x.reshape(x.shape[0], -1)
    if w.ndim != 2:
        raise ValueError(f"affine_forward: expected weight of shape (D, M), got {tuple(w.shape)}")
    if x2.shape[1] != w.shape[0]:
        raise ValueError(
            f"affine_forward: input flattens to {x2.shape[1]} features per sample but the weight "
            f"expects D={w.shape[0]} (input shape {tuple(x.shape)}, weight shape {tuple(w.shape)})"
        )
    twin = _numba.twin("linear", x, w, *((b,) if isinstance(b, np.ndarray) else ()))
    if twin:
        return twin.affine_forward(x, w, b)
    out = x2 @ w
    out += b  # in place: no second (N, M) temporary
    return out, (x, w)


def affine_backward(dout, cache, need_dx=True):
    """Gradients of the affine map.

    dx = dout @ w.T (reshaped to x's shape), dw = x2.T @ dout, db = sum_n dout[n].
    With ``need_dx=False`` (the first layer of a network: nothing consumes dx) dx is None.
    """
    compiled = _numba.backward_twin("affine", cache)
    if compiled:
        return compiled(dout, cache, need_dx)
    x, w = cache
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
