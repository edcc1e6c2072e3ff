"""Compiled twin of ``functional/add.py``: the sum, and the sum then ReLU, in one pass over the flat
arrays, split between the threads.

NumPy's ``a + b`` runs on one thread; in ResNet-20 (batch 128) each block adds two arrays of up to
8 MB in the forward and again in the backward (the fork's input gradients). ``max(a + b, 0)`` in one
pass reads a and b once and writes out once, where the sum then ReLU wrote the sum and read it back.
The ReLU's cache is its output, as from ``relu_forward``.
"""
from __future__ import annotations

from numba import uint64 as u8

from . import CompiledCache
from .activation import flat_pass, relu_value
from .jit import kernel


@kernel
def _add(a, b, out, lo, hi):  # pragma: no cover - compiled
    """out[i] = a[i] + b[i] for lo <= i < hi over flat arrays."""
    for i in range(u8(lo), u8(hi)):
        out[i] = a[i] + b[i]


@kernel
def _add_relu(a, b, out, lo, hi):  # pragma: no cover - compiled
    """out[i] = max(a[i] + b[i], 0) for lo <= i < hi over flat arrays (a NaN stays NaN, as in relu_value)."""
    for i in range(u8(lo), u8(hi)):
        out[i] = relu_value(a[i] + b[i])


def add_forward(a, b):
    """out = a + b (``_add``). Returns (out, None)."""
    return flat_pass(_add, a, a, b), None


def add_relu_forward(a, b):
    """out = max(a + b, 0) (``_add_relu``). Returns (out, CompiledCache(("relu", out))): ReLU's cache."""
    out = flat_pass(_add_relu, a, a, b)
    return out, CompiledCache(("relu", out))
