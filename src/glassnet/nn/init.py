"""Weight initialisation schemes (arrays drawn from an explicit ``numpy.random.Generator``).

- "default": PyTorch's default for Linear and Conv2d, W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  (kaiming_uniform with a = sqrt(5)).
- "he": W ~ N(0, 2 / fan_in), b = 0 (He et al. 2015; keeps ReLU activations' variance).
- "xavier": W ~ U(-sqrt(6 / (fan_in + fan_out)), +sqrt(6 / (fan_in + fan_out))), b = 0 (Glorot & Bengio).
"""
from __future__ import annotations

import numpy as np

from .. import backend

INITS = ("default", "he", "xavier")


def init_weight_and_bias(shape, fan_in, fan_out, init="default", rng=None, bias=True):
    """Weight of ``shape`` and bias of length ``shape[0]`` for conv filters (F, C, kh, kw) or (F, C, k), or
    ``shape[1]`` for a Linear weight (in, out); in the default dtype on the active backend."""
    n_bias = shape[1] if len(shape) == 2 else shape[0]
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: expected one of {INITS}")
    rng = rng if rng is not None else np.random.default_rng()
    if init == "default":
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=shape)
        b = rng.uniform(-bound, bound, size=n_bias) if bias else None
    elif init == "he":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        b = np.zeros(n_bias) if bias else None
    else:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
        b = np.zeros(n_bias) if bias else None
    return backend.asarray(w), (backend.asarray(b) if b is not None else None)
