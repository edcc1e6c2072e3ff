"""Compiled twin of ``functional/activation.py``: ReLU in one pass, split between the threads.

The reference computes ``out = np.maximum(x, 0)`` and ``dx = dout * (out > 0)``; here each is one
loop over the flat arrays that reads and writes each element once. The cache is the output, as
in the reference, wrapped in a :class:`CompiledCache` so the reference backward hands it back here.
"""
from __future__ import annotations

import numpy as np
from numba import uint64 as u8

from . import CompiledCache
from .jit import kernel
from .threads import parallel


@kernel
def _relu(x, out, lo, hi):  # pragma: no cover - compiled
    """out[i] = max(x[i], 0) for lo <= i < hi over flat arrays (a NaN stays NaN, as in torch.relu)."""
    for i in range(u8(lo), u8(hi)):
        v = x[i]
        out[i] = v if (v > 0) | (v != v) else 0


@kernel
def _relu_backward(dout, out, dx, lo, hi):  # pragma: no cover - compiled
    """dx[i] = dout[i] where out[i] > 0 (the input was positive), else 0."""
    for i in range(u8(lo), u8(hi)):
        dx[i] = dout[i] if out[i] > 0 else 0


def relu_forward(x):
    """out = max(x, 0) (``_relu`` over the flat array). Returns (out, CompiledCache(("relu", out)))."""
    out = np.empty(x.shape, dtype=x.dtype)
    x_flat, out_flat = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    parallel(x_flat.size, lambda lo, hi: _relu(x_flat, out_flat, lo, hi), x_flat.size)
    return out, CompiledCache(("relu", out))


def relu_backward(dout, cache):
    """dx = dout * (out > 0) (``_relu_backward`` over the flat arrays)."""
    _, out = cache
    dx = np.empty(out.shape, dtype=out.dtype)
    dout_flat = np.ascontiguousarray(dout, dtype=out.dtype).reshape(-1)
    out_flat, dx_flat = out.reshape(-1), dx.reshape(-1)
    parallel(out_flat.size, lambda lo, hi: _relu_backward(dout_flat, out_flat, dx_flat, lo, hi), out_flat.size)
    return dx
