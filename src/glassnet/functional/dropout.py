"""Inverted dropout: zero each unit with probability p at train time and scale survivors by 1/(1-p)."""
from __future__ import annotations

from ..backend import array_module


def dropout_forward(x, p, train, rng):
    """Inverted dropout.

    train: mask_i ~ Bernoulli(1 - p) drawn from ``rng`` (a ``numpy.random.Generator`` or a CuPy
    generator), out = x * mask / (1 - p), so E[out] = x and evaluation needs no rescaling.
    eval (or p == 0): out = x. p == 1 drops everything (out = 0).
    Returns (out, cache=scaled mask or None).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: drop probability p must be in [0, 1], got {p}")
    if not train or p == 0.0:
        return x, None
    xp = array_module(x)
    if p == 1.0:
        mask = xp.zeros_like(x)
    else:
        keep = xp.asarray(rng.random(x.shape, dtype=x.dtype) >= p)
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout * mask / (1 - p) (the same scaled mask as forward); identity when nothing was dropped."""
    mask = cache
    return dout if mask is None else dout * mask
