"""Element-wise activations and softmax; each backward multiplies ``dout`` by the local derivative."""
from __future__ import annotations

from ..backend import array_module
from . import _numba


def relu_forward(x):
    """ReLU: out = max(x, 0). Returns (out, cache=out).

    The cache is the output, not the input: out > 0 exactly where x > 0, and the output is kept
    alive anyway by the next layer, so caching it costs no memory. (The compiled twin returns the
    same output wrapped as ``CompiledCache(("relu", out))``.)
    """
    twin = _numba.twin("activation", x)
    if twin:
        return twin.relu_forward(x)
    xp = array_module(x)
    out = xp.maximum(x, x.dtype.type(0))
    return out, out


def relu_backward(dout, cache):
    """d relu / dx = 1 where x > 0 else 0  =>  dx = dout where x > 0 else 0, with x > 0 <=> out > 0.

    Written as a selection, not ``dout * (out > 0)``: a NaN or infinite dout stays out of the units ReLU
    shut (NaN * 0 would be NaN), as in PyTorch and the compiled twin.
    """
    compiled = _numba.backward_twin("relu", cache)
    if compiled:
        return compiled(dout, cache)
    out = cache
    return array_module(dout).where(out > 0, dout, dout.dtype.type(0))


def leaky_relu_forward(x, slope=0.01):
    """Leaky ReLU: out = x if x > 0 else slope * x. Returns (out, cache=(x, slope))."""
    xp = array_module(x)
    return xp.where(x > 0, x, x * x.dtype.type(slope)), (x, slope)


def leaky_relu_backward(dout, cache):
    """dx = dout * (1 if x > 0 else slope)."""
    x, slope = cache
    xp = array_module(x)
    return dout * xp.where(x > 0, x.dtype.type(1), x.dtype.type(slope))


def sigmoid(x):
    """Numerically stable logistic function 1 / (1 + exp(-x)).

    Uses e = exp(-|x|) <= 1 so nothing overflows: sigma(x) = 1/(1+e) for x >= 0, e/(1+e) for x < 0.
    """
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_forward(x):
    """Sigmoid: out = 1 / (1 + exp(-x)), computed stably. Returns (out, cache=out)."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """sigma'(x) = sigma(x) * (1 - sigma(x))  =>  dx = dout * out * (1 - out)."""
    out = cache
    return dout * out * (1 - out)


def tanh_forward(x):
    """Tanh: out = tanh(x). Returns (out, cache=out)."""
    xp = array_module(x)
    out = xp.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """tanh'(x) = 1 - tanh(x)^2  =>  dx = dout * (1 - out^2)."""
    out = cache
    return dout * (1 - out * out)


def softmax(x, axis=1):
    """Stable softmax along ``axis``: exp(x - max x) / sum exp(x - max x)."""
    xp = array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_forward(x, axis=1):
    """Softmax over ``axis`` (classes; default 1 as in ``torch.softmax(x, dim=1)``).

    out_i = exp(x_i - max_j x_j) / sum_k exp(x_k - max_j x_j). Returns (out, cache=(out, axis)).
    """
    out = softmax(x, axis)
    return out, (out, axis)


def softmax_backward(dout, cache):
    """Jacobian-vector product of softmax: dx_i = s_i * (dout_i - sum_k dout_k s_k)."""
    s, axis = cache
    return s * (dout - (dout * s).sum(axis=axis, keepdims=True))
