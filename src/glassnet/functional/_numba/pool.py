"""Compiled twin of ``functional/pool.py``: max pooling in one pass over each (n, c) plane, ReLU
then max pooling (``relu_max_pool_forward`` / ``relu_max_pool_backward``) in the same pass, and
global average pooling (each plane's mean summed in float64, its gradient spread back), split
between the threads by planes.

Like the reference kernel, the forward keeps only the maxima and the backward finds each window's
first maximum again from (x, out): in a network both arrays are cached by the neighbouring layers
anyway, and the max-only forward is 6-8x faster than one that also records an argmax. The
reference walks the kh*kw kernel offsets over whole-array views; here each plane is walked once
(2x2 windows at stride 2 get a special case), and comparisons are branch-free (``|``, ``&``, ``~``
on booleans) so LLVM vectorises them. Indices in the inner loops are unsigned (u8): numba checks
signed indices for negative wrap-around, which keeps LLVM from vectorising.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u8

from .._windows import pair, window_grid
from . import CompiledCache
from .activation import _relu, gate, relu_grad
from .jit import REORDERED_SUMS, kernel
from .threads import parallel


@njit(inline="always")
def _nanmax(a, b):  # pragma: no cover - compiled
    """max(a, b), NaN if either is NaN (np.maximum's rule)."""
    return a if (a >= b) | (a != a) else b


@njit(inline="always")
def _is_max(v, m):  # pragma: no cover - compiled
    """v is the window maximum m (a NaN maximum is matched by any NaN)."""
    return (v == m) | (v != v)


@njit(inline="always")
def _max_2x2(xf, of, h0, o, W, wo):  # pragma: no cover - compiled
    """The 2x2 windows of one row pair (input rows from flat index h0 and h0 + W, outputs from o):
    the maximum of each window's left column, of its right column, then of the two, in one loop
    along the row (the two loops of a row-wise maximum first, 28 and 14 long on LeNet-5's 28x28
    maps, each mostly a vector loop's scalar remainder, took 1.4x as long)."""
    h1 = h0 + u8(W)
    for j in range(u8(wo)):
        left = u8(2) * j
        of[o + j] = _nanmax(_nanmax(xf[h0 + left], xf[h1 + left]), _nanmax(xf[h0 + left + u8(1)], xf[h1 + left + u8(1)]))


@kernel
def _max_pool(x, kh, kw, sh, sw, out, lo, hi):  # pragma: no cover - compiled
    """out[p, i, j] = max_{a,b} x[p, i*sh + a, j*sw + b] for the (N*C, H, W) planes lo <= p < hi.

    2x2 windows at stride 2 (:func:`_max_2x2`; when they tile the planes exactly, one sequence of
    row pairs over all the planes, without a loop per plane); 1x2 windows of signals that tile them
    (W even) as one sequence of pairs. Other windows: the maximum over the kh*kw offset views, one
    output row at a time.
    """
    H, W = x.shape[1], x.shape[2]
    ho, wo = out.shape[1], out.shape[2]
    two_by_two = kh == 2 and kw == 2 and sh == 2 and sw == 2
    if two_by_two and H == 2 * ho and W == 2 * wo:
        xf, of = x.reshape(-1), out.reshape(-1)
        for r in range(lo * ho, hi * ho):  # row pair r of the stacked planes
            _max_2x2(xf, of, u8(2 * r * W), u8(r * wo), W, wo)
        return
    if kh == 1 and kw == 2 and sh == 1 and sw == 2 and W == 2 * wo:  # 1-D pairs: one run over all the rows
        xf, of = x.reshape(-1), out.reshape(-1)
        for k in range(u8(lo * ho * wo), u8(hi * ho * wo)):
            left = u8(2) * k
            of[k] = _nanmax(xf[left], xf[left + u8(1)])
        return
    for p in range(lo, hi):
        xf, of = x[p].reshape(-1), out[p].reshape(-1)
        for i in range(ho):
            o = u8(i * wo)
            if two_by_two:
                _max_2x2(xf, of, u8(2 * i * W), o, W, wo)
                continue
            s0 = u8(i * sh * W)
            for j in range(u8(wo)):
                of[o + j] = xf[s0 + j * u8(sw)]
            for k in range(1, kh * kw):
                s = u8((i * sh + k // kw) * W + k % kw)
                for j in range(u8(wo)):
                    of[o + j] = _nanmax(of[o + j], xf[s + j * u8(sw)])


RELU_BLOCK = 1 << 13
"""Values of ReLU's output that :func:`_relu_max_pool` writes before pooling them (whole planes, at
least one): 32 KiB of float32, still in L1 when the pooling reads them back."""


@kernel
def _relu_max_pool(x, kh, kw, sh, sw, y, out, lo, hi):  # pragma: no cover - compiled
    """y[p] = max(x[p], 0) and out[p] = the max pooling of y[p] (:func:`_max_pool`, called rather than
    inlined: a second copy of the pooling's code cost a second of compiling) for the planes
    lo <= p < hi, a block of planes (RELU_BLOCK values) at a time, so the pooling reads y from L1."""
    plane = x.shape[1] * x.shape[2]
    step = max(1, RELU_BLOCK // plane)
    xf, yf = x.reshape(-1), y.reshape(-1)
    for p0 in range(lo, hi, step):
        p1 = min(hi, p0 + step)
        _relu(xf, yf, p0 * plane, p1 * plane)
        _max_pool(y, kh, kw, sh, sw, out, p0, p1)


@njit(inline="always")
def _window(of, df, k, relu):  # pragma: no cover - compiled
    """(maximum, gradient) of window k: out[k] and dout[k], the gradient through ReLU's (dout where
    out > 0, else 0) with ``relu``."""
    m = of[k]
    return m, (relu_grad(df[k], m) if relu else df[k])


@njit(inline="always")
def _grads_2x2(xf, of, df, gf, h0, o, W, wo, relu):  # pragma: no cover - compiled
    """The 2x2 windows of one row pair (input rows from flat index h0 and h0 + W, outputs from o):
    each pixel gets the window's gradient (:func:`_window`) if it is the window's first maximum, else zero."""
    h1 = h0 + u8(W)
    for j in range(u8(wo)):
        m, d = _window(of, df, o + j, relu)
        left = u8(2) * j
        e0 = _is_max(xf[h0 + left], m)
        e1 = _is_max(xf[h0 + left + u8(1)], m) & ~e0
        e2 = _is_max(xf[h1 + left], m) & ~(e0 | e1)
        e3 = ~(e0 | e1 | e2)
        gf[h0 + left] = gate(d, e0)
        gf[h0 + left + u8(1)] = gate(d, e1)
        gf[h1 + left] = gate(d, e2)
        gf[h1 + left + u8(1)] = gate(d, e3)


@kernel
def _max_pool_backward(x, out, dout, kh, kw, sh, sw, relu, dx, lo, hi):  # pragma: no cover - compiled
    """dx[p, i*sh + a, j*sw + b] (+)= dout[p, i, j] at the first (row-major) offset (a, b) of each
    window where x equals the window's maximum out[p, i, j]; planes lo <= p < hi.

    With ``relu`` (x is ReLU's output, :func:`relu_max_pool_backward`) each window's gradient first
    goes through ReLU's gradient at its maximum, dout where out > 0 else 0: the maximum is the value of
    x that receives it, so this is ReLU's backward of the pool's dx, without a second pass.

    When the windows tile the input (stride == size) every pixel of dx is written once, zeros
    included, so dx needs no initialisation; otherwise it is zeroed here and overlapping windows
    accumulate. 2x2 windows that tile the planes exactly (H and W even) run as one sequence of row
    pairs over all the planes, without a loop per plane (LeNet-5's second pool: 10x10 planes, 25
    windows each).
    """
    H, W = dx.shape[1], dx.shape[2]
    ho, wo = out.shape[1], out.shape[2]
    tiled = kh == sh and kw == sw
    if tiled and kh == 2 and kw == 2 and H == 2 * ho and W == 2 * wo:
        xf, of, df, gf = x.reshape(-1), out.reshape(-1), dout.reshape(-1), dx.reshape(-1)
        for r in range(lo * ho, hi * ho):  # row pair r of the stacked planes: input rows 2r and 2r + 1
            _grads_2x2(xf, of, df, gf, u8(2 * r * W), u8(r * wo), W, wo, relu)
        return
    for p in range(lo, hi):
        xf, of, df, gf = x[p].reshape(-1), out[p].reshape(-1), dout[p].reshape(-1), dx[p].reshape(-1)
        if not tiled:
            gf[:] = 0
        for i in range(ho):
            o = u8(i * wo)
            if tiled and kh == 2 and kw == 2:
                _grads_2x2(xf, of, df, gf, u8(2 * i * W), o, W, wo, relu)
            elif tiled and kh == 1 and kw == 2:  # 1-D pooling (signals are images of height 1)
                h0 = u8(i * W)
                for j in range(u8(wo)):
                    m, d = _window(of, df, o + j, relu)
                    left = u8(2) * j
                    e0 = _is_max(xf[h0 + left], m)
                    gf[h0 + left] = gate(d, e0)
                    gf[h0 + left + u8(1)] = gate(d, ~e0)
            else:
                for j in range(wo):
                    m, d = _window(of, df, o + j, relu)
                    found = False
                    for k in range(kh * kw):
                        q = (i * sh + k // kw) * W + j * sw + k % kw
                        first = (not found) and _is_max(xf[q], m)
                        found = found or first
                        if tiled:
                            gf[q] = gate(d, first)
                        elif first:
                            gf[q] += d
            if tiled and wo * sw < W:  # columns right of the last window
                for a in range(kh):
                    gf[(i * sh + a) * W + wo * sw : (i * sh + a + 1) * W] = 0
        if tiled and ho * sh < H:  # rows below the last window
            gf[ho * sh * W :] = 0


def _prepare(name, x, size, stride):
    """(kh, kw, sh, sw, x3, out): the window, x as (N*C, H, W) planes (no copy when contiguous) and
    the output planes (N*C, Ho, Wo) to write."""
    kh, kw = pair(size, "size")
    n, c, h, w = x.shape
    (sh, sw), _, (ho, wo) = window_grid(name, h, w, kh, kw, stride, 0)
    x3 = np.ascontiguousarray(x).reshape(n * c, h, w)
    return kh, kw, sh, sw, x3, np.empty((n * c, ho, wo), dtype=x.dtype)


def _pool_cache(x3, out, x_shape, kh, kw, sh, sw):
    """The max pool's cache: its input and output planes (views, no copies), the input's shape, the window."""
    return CompiledCache(("max_pool", x3, out, x_shape, kh, kw, sh, sw))


def max_pool_forward(x, size=2, stride=2):
    """out[n, c, i, j] = max_{a,b} x[n, c, i*sh + a, j*sw + b]: the reference's running
    ``np.maximum`` over the offset views, computed plane by plane (``_max_pool``; NaN wins, as in
    np.maximum). Cache: x and out (as (N*C, H, W) views, no copies)."""
    kh, kw, sh, sw, x3, out = _prepare("max_pool_forward", x, size, stride)
    parallel(x3.shape[0], lambda lo, hi: _max_pool(x3, kh, kw, sh, sw, out, lo, hi), x.size)
    return out.reshape(*x.shape[:2], *out.shape[1:]), _pool_cache(x3, out, x.shape, kh, kw, sh, sw)


def relu_max_pool_forward(x, size=2, stride=2):
    """y = max(x, 0), out = max pool of y: the reference's two kernels in one pass over blocks of
    planes (``_relu_max_pool``), with the same y and out, and the caches each kernel returns (ReLU's
    output y in x's shape, and y and out as the pool's planes). A signal x (N, C, L) is pooled as the
    image (N, C, 1, L) (``size`` and ``stride`` pairs); out is then (N, C, 1, Lo)."""
    image = x if x.ndim == 4 else x[:, :, None, :]
    kh, kw, sh, sw, x3, out = _prepare("relu_max_pool_forward", image, size, stride)
    y = np.empty(x.shape, dtype=x.dtype)
    y3 = y.reshape(x3.shape)
    parallel(x3.shape[0], lambda lo, hi: _relu_max_pool(x3, kh, kw, sh, sw, y3, out, lo, hi), x.size)
    return (out.reshape(*x.shape[:2], *out.shape[1:]),
            (CompiledCache(("relu", y)), _pool_cache(y3, out, image.shape, kh, kw, sh, sw)))


def _backward(dout, cache, relu):
    """dx of the max pool whose cache this is (:func:`_max_pool_backward`, with ReLU's gradient at each
    window's maximum when ``relu``)."""
    _, x3, out, x_shape, kh, kw, sh, sw = cache
    dx = np.empty(x3.shape, dtype=x3.dtype)
    dout3 = np.ascontiguousarray(dout, dtype=x3.dtype).reshape(out.shape)
    parallel(x3.shape[0], lambda lo, hi: _max_pool_backward(x3, out, dout3, kh, kw, sh, sw, relu, dx, lo, hi), dx.size)
    return dx.reshape(x_shape)


def max_pool_backward(dout, cache):
    """The reference's ``dx[offset k] += dout * hit_k`` (hit_k: the first offset in row-major order
    where x equals the window maximum), computed plane by plane (``_max_pool_backward``)."""
    return _backward(dout, cache, relu=False)


def relu_max_pool_backward(dout, cache):
    """ReLU's backward of the max pool's dx in the pool's own pass: the pool's input is ReLU's output,
    so each window's gradient reaches one value, its maximum, and ReLU keeps it where that maximum is
    > 0 (``_max_pool_backward`` with ``relu``); the same dx as the two backwards one after the other,
    in the shape of ReLU's input (a signal's for a 1-D pool)."""
    return _backward(dout, cache[1], relu=True).reshape(cache[0][1].shape)


@kernel(**REORDERED_SUMS)
def _plane_means(x, out, lo, hi):  # pragma: no cover - compiled
    """out[p] = sum_j x[p, j] / M for the planes lo <= p < hi of x (P, M), summed in float64 (the
    additions reordered, so vectorised: ``jit.REORDERED_SUMS``)."""
    m = x.shape[1]
    for p in range(lo, hi):
        row = x[p]
        total = 0.0
        for j in range(u8(m)):
            total += np.float64(row[j])
        out[p] = total / m


@kernel
def _spread_means(dout, dx, lo, hi):  # pragma: no cover - compiled
    """dx[p, j] = dout[p] / M for the planes lo <= p < hi of dx (P, M), divided in dout's dtype (as the
    reference does)."""
    m = dx.shape[1]
    for p in range(lo, hi):
        g = dout[p] / type(dout[p])(m)
        row = dx[p]
        for j in range(u8(m)):
            row[j] = g


def global_avg_pool_forward(x):
    """out[n, c] = the mean of x[n, c] (``_plane_means``: summed in float64, where the reference's
    ``x.mean`` sums in x's dtype). Cache: x's shape."""
    n, c = x.shape[:2]
    planes = np.ascontiguousarray(x).reshape(n * c, -1)
    out = np.empty(n * c, dtype=x.dtype)
    parallel(n * c, lambda lo, hi: _plane_means(planes, out, lo, hi), x.size)
    return out.reshape(n, c), CompiledCache(("global_avg_pool", x.shape))


def global_avg_pool_backward(dout, cache):
    """dx[n, c, i, j] = dout[n, c] / (H*W) (``_spread_means``)."""
    _, x_shape = cache
    dx = np.empty(x_shape, dtype=dout.dtype)
    planes = dx.reshape(x_shape[0] * x_shape[1], -1)
    grads = np.ascontiguousarray(dout).reshape(-1)
    parallel(planes.shape[0], lambda lo, hi: _spread_means(grads, planes, lo, hi), dx.size)
    return dx
