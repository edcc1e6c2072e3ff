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


def window_grid(name, h, w, kh, kw, stride, pad):
    """(sh, sw), (ph, pw), (ho, wo): stride and padding as pairs, and the window positions per axis
    of a kh x kw window over an h x w input (``output_size`` along each axis)."""
    sh, sw = pair(stride, "stride")
    ph, pw = pair(pad, "pad")
    return (sh, sw), (ph, pw), (output_size(name, h, kh, sh, ph), output_size(name, w, kw, sw, pw))


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


def offset_view(x, a, b, ho, wo, sh, sw):
    """The pixels at kernel offset (a, b) of every window: x[:, :, i*sh + a, j*sw + b] for i < ho, j < wo."""
    return x[:, :, a : a + sh * (ho - 1) + 1 : sh, b : b + sw * (wo - 1) + 1 : sw]


def im2col(x, kh, kw, sh, sw):
    """The columns of every image, laid out for one product with the filters: a copy of shape
    (N, C*kh*kw, Ho*Wo) with cols[n, (c*kh + a)*kw + b, i*Wo + j] = x[n, c, i*sh + a, j*sw + b].

    ``w.reshape(F, C*kh*kw) @ cols`` is then (N, F, Ho*Wo), already in (N, F, Ho, Wo) order.
    """
    n, c, h, w = x.shape
    win = windows(x, kh, kw, sh, sw)  # (N, C, Ho, Wo, kh, kw)
    ho, wo = win.shape[2], win.shape[3]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def col2im(dcols, x_shape, sh, sw):
    """Adjoint of :func:`im2col`: sum each window's gradient back onto the pixels it covers.

    dcols: (N, C, kh, kw, Ho, Wo), the gradient w.r.t. the window pixels; returns dx of shape
    ``x_shape`` with dx[n, c, i*sh + a, j*sw + b] += dcols[n, c, a, b, i, j], accumulated with one
    strided ``+=`` per kernel offset (a, b) - vectorised over batch, channels and positions.
    """
    xp = array_module(dcols)
    _, _, kh, kw, ho, wo = dcols.shape
    dx = xp.zeros(x_shape, dtype=dcols.dtype)
    for a in range(kh):
        for b in range(kw):
            offset_view(dx, a, b, ho, wo, sh, sw)[...] += dcols[:, :, a, b]
    return dx
