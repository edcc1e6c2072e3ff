"""Sum of two arrays of one shape: where a residual block joins its branches, ``out = y + s``, and
the same sum followed by the block's ReLU, ``out = max(y + s, 0)``.

backward: d(a + b)/da = d(a + b)/db = 1, so both inputs get ``dout`` unchanged (after ReLU, both get
ReLU's gradient). Read the other way round, the same sum is the backward of a fork: an input that
feeds two branches gets the sum of the two branches' input gradients.
"""
from __future__ import annotations

from . import _numba
from .activation import relu_backward, relu_forward


def _check(name, a, b):
    if a.shape != b.shape:
        raise ValueError(f"{name}: the two arrays must have one shape to be added, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")


def add_forward(a, b):
    """out = a + b, element by element (a and b of one shape). Returns (out, None): the backward
    needs nothing. The compiled twin shares the pass between glassnet's threads."""
    _check("add_forward", a, b)
    twin = _numba.twin("add", a, b)
    if twin:
        return twin.add_forward(a, b)
    return a + b, None


def add_backward(dout, cache):
    """da = db = dout: the same array for both (neither may be written to, as for any dout)."""
    return dout, dout


def add_relu_forward(a, b):
    """out = max(a + b, 0): a residual block's sum, then its ReLU. Returns (out, ReLU's cache), the
    cache ``relu_forward(a + b)`` would return, so ``relu_backward`` takes it.

    The reference runs the two steps one after the other; the compiled twin writes max(a + b, 0)
    in one pass, so the sum before ReLU is never stored.
    """
    _check("add_relu_forward", a, b)
    twin = _numba.twin("add", a, b)
    if twin:
        return twin.add_relu_forward(a, b)
    return relu_forward(a + b)


def add_relu_backward(dout, cache):
    """da = db = ReLU's gradient, dout where out > 0 else 0 (:func:`relu_backward`; one array for both)."""
    d = relu_backward(dout, cache)
    return d, d
