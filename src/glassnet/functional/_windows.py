"""Sliding windows (im2col as a strided view) and their adjoint (col2im), shared by conv and pooling."""
from __future__ import annotations

from ..backend import array_module


def pair(v, name="value", least=None):
    """``v`` as an (int, int) pair: 3 -> (3, 3), (2, 1) -> (2, 1); ValueError if below ``least``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        out = int(v[0]), int(v[1])
    else:
        out = int(v), int(v)
    return _at_least(out, out, name, least, v)


def single(v, name="value", least=None):
    """``v`` as one int: 3 -> 3, (3,) -> 3 (PyTorch's 1-D layers accept both); ValueError if below ``least``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple for a 1-D layer, got {v!r}")
        v = v[0]
    return _at_least(int(v), (int(v),), name, least, v)


def spatial(v) -> tuple:
    """A layer's size argument as a tuple over its spatial axes: a pair as it is, a 1-D layer's int as (k,)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _at_least(out, values, name, least, given):
    if least is not None and min(values) < least:
        raise ValueError(f"{name} must be >= {least}, got {given!r}")
    return out


def output_size(name, size, kernel, stride, pad, dilation=1):
    """Number of window positions along one axis: floor((size + 2*pad - span) / stride) + 1, where
    span = dilation*(kernel - 1) + 1 is the extent of a kernel whose taps are ``dilation`` apart."""
    if stride < 1:
        raise ValueError(f"{name}: stride must be >= 1, got {stride}")
    if dilation < 1:
        raise ValueError(f"{name}: dilation must be >= 1, got {dilation}")
    if pad < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {pad}")
    span = dilation * (kernel - 1) + 1
    if size + 2 * pad < span:
        what = f"kernel size {kernel}" if dilation == 1 else f"dilated kernel (size {kernel}, dilation {dilation}: spans {span})"
        raise ValueError(f"{name}: {what} is larger than the (padded) input size {size + 2 * pad}")
    return (size + 2 * pad - span) // stride + 1


def window_grid(name, h, w, kh, kw, stride, pad, dilation=1):
    """(sh, sw), (ph, pw), (ho, wo): stride and padding as pairs, and the window positions per axis
    of a kh x kw window (taps ``dilation`` apart) over an h x w input (``output_size`` along each axis)."""
    sh, sw = pair(stride, "stride")
    ph, pw = pair(pad, "pad")
    dh, dw = pair(dilation, "dilation")
    return (sh, sw), (ph, pw), (output_size(name, h, kh, sh, ph, dh), output_size(name, w, kw, sw, pw, dw))


def windows(x, kh, kw, sh, sw, dh=1, dw=1):
    """All kh x kw windows of x (N, C, H, W) at strides (sh, sw), taps (dh, dw) apart, as a read-only
    strided view.

    Returns an array of shape (N, C, Ho, Wo, kh, kw) with
    windows[n, c, i, j, a, b] = x[n, c, i*sh + a*dh, j*sw + b*dw]; no data is copied.
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    s_n, s_c, s_h, s_w = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, c, ho, wo, kh, kw), strides=(s_n, s_c, s_h * sh, s_w * sw, s_h * dh, s_w * dw), writeable=False
    )


def offset_view(x, a, b, ho, wo, sh, sw):
    """The pixels at offset (a, b) of every window: x[:, :, i*sh + a, j*sw + b] for i < ho, j < wo.

    (For a dilated kernel, tap (a', b') sits at offset (a'*dh, b'*dw).)
    """
    return x[:, :, a : a + sh * (ho - 1) + 1 : sh, b : b + sw * (wo - 1) + 1 : sw]


def im2col(x, kh, kw, sh, sw, dh=1, dw=1):
    """The columns of every image, laid out for one product with the filters: a copy of shape
    (N, C*kh*kw, Ho*Wo) with cols[n, (c*kh + a)*kw + b, i*Wo + j] = x[n, c, i*sh + a*dh, j*sw + b*dw].

    ``w.reshape(F, C*kh*kw) @ cols`` is then (N, F, Ho*Wo), already in (N, F, Ho, Wo) order; the rows
    of channel group g (channels g*C/G .. (g+1)*C/G - 1) are one contiguous block.
    """
    n, c, h, w = x.shape
    win = windows(x, kh, kw, sh, sw, dh, dw)  # (N, C, Ho, Wo, kh, kw)
    ho, wo = win.shape[2], win.shape[3]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def col2im(dcols, x_shape, sh, sw, dh=1, dw=1):
    """Adjoint of :func:`im2col`: sum each window's gradient back onto the pixels it covers.

    dcols: (N, C, kh, kw, Ho, Wo), the gradient w.r.t. the window pixels; returns dx of shape
    ``x_shape`` with dx[n, c, i*sh + a*dh, j*sw + b*dw] += dcols[n, c, a, b, i, j], accumulated with
    one strided ``+=`` per kernel tap (a, b) - vectorised over batch, channels and positions - in
    (b, a) order (the order the compiled twin adds them in, where it is fastest).
    """
    xp = array_module(dcols)
    _, _, kh, kw, ho, wo = dcols.shape
    dx = xp.zeros(x_shape, dtype=dcols.dtype)
    for b in range(kw):
        for a in range(kh):
            offset_view(dx, a * dh, b * dw, ho, wo, sh, sw)[...] += dcols[:, :, a, b]
    return dx
