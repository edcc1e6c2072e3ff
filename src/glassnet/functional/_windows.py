"""Sliding windows (im2col as a strided view) and their adjoint (col2im), shared by conv and pooling."""
from __future__ import annotations

from ..backend import array_module


def pair(v, name="value"):
    """``v`` as an (int, int) pair: 3 -> (3, 3), (2, 1) -> (2, 1)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def output_size(name, size, kernel, stride, pad):
    """Number of window positions along one axis: floor((size + 2*pad - kernel) / stride) + 1."""
    if stride < 1:
        raise ValueError(f"{name}: stride must be >= 1, got {stride}")
    if size + 2 * pad < kernel:
        raise ValueError(
            f"{name}: kernel size {kernel} is larger than the (padded) input size {size + 2 * pad}"
        )
    return (size + 2 * pad - kernel) // stride + 1


def windows(x, kh, kw, sh, sw):
    """All kh x kw windows of x (N, C, H, W) at strides (sh, sw), as a read-only strided view.

    Returns an array of shape (N, C, Ho, Wo, kh, kw) with
    windows[n, c, i, j, a, b] = x[n, c, i*sh + a, j*sw + b]; no data is copied.
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    s_n, s_c, s_h, s_w = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, c, ho, wo, kh, kw), strides=(s_n, s_c, s_h * sh, s_w * sw, s_h, s_w), writeable=False
    )


def col2im(dwin, x_shape, sh, sw):
    """Adjoint of :func:`windows`: sum each window's gradient back onto the pixels it covers.

    dwin: (N, C, Ho, Wo, kh, kw) gradient w.r.t. the windows; returns dx of shape ``x_shape``
    with dx[n, c, i*sh + a, j*sw + b] += dwin[n, c, i, j, a, b], accumulated with one strided
    ``+=`` per kernel offset (a, b) - vectorised over batch, channels and positions.
    """
    xp = array_module(dwin)
    _, _, ho, wo, kh, kw = dwin.shape
    dx = xp.zeros(x_shape, dtype=dwin.dtype)
    for a in range(kh):
        for b in range(kw):
            dx[:, :, a : a + sh * ho : sh, b : b + sw * wo : sw] += dwin[:, :, :, :, a, b]
    return dx
