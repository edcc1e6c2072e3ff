"""2-D convolution layer (as in every CNN library, it is cross-correlation: the kernel is not flipped)."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from . import _numba
from ._windows import col2im, im2col, window_grid


def conv_forward(x, w, b, stride=1, pad=0):
    """Cross-correlation of a batch of images with a bank of filters, via im2col.

    out[n, f, i, j] = b[f] + sum_{c, a, b'} w[f, c, a, b'] * xp[n, c, i*s + a, j*s + b']

    where xp is x zero-padded by ``pad`` on each side. Shapes: x (N, C, H, W), w (F, C, HH, WW),
    b (F,) (or the scalar 0 for no bias), out (N, F, Ho, Wo) with Ho = (H + 2*pad - HH) // stride + 1
    (likewise Wo). ``stride`` and ``pad`` are ints or (vertical, horizontal) pairs.
    Implementation: the windows of each image of xp form the matrix cols[n] (C*HH*WW, Ho*Wo) and
    out[n] = w.reshape(F, -1) @ cols[n] + b is one batched matrix product whose result is already
    in (N, F, Ho, Wo) order. With numba installed, NumPy arrays take the compiled version of the
    same computation (``_numba/conv.py``, ``conv_forward``: cache-sized tiles, no stored columns).
    """
    xp = array_module(x)
    if x.ndim != 4:
        raise ValueError(f"conv_forward: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    if w.ndim != 4:
        raise ValueError(f"conv_forward: expected weight of shape (F, C, HH, WW), got {tuple(w.shape)}")
    n, c, h, wd = x.shape
    f, cw, kh, kw = w.shape
    if c != cw:
        raise ValueError(f"conv_forward: input has {c} channels but the filters expect {cw} (x {tuple(x.shape)}, w {tuple(w.shape)})")
    (sh, sw), (ph, pw), (ho, wo) = window_grid("conv_forward", h, wd, kh, kw, stride, pad)
    twin = _numba.twin("conv", x, w, *((b,) if isinstance(b, np.ndarray) else ()))
    if twin:
        return twin.conv_forward(x, w, b, stride, pad)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if (ph or pw) else x
    cols = im2col(x_pad, kh, kw, sh, sw)                      # (N, C*HH*WW, Ho*Wo)
    out = w.reshape(f, -1) @ cols                             # (N, F, Ho*Wo)
    out += xp.asarray(b, dtype=out.dtype).reshape(-1, 1)
    return out.reshape(n, f, ho, wo), (x_pad.shape, cols, w, (sh, sw), (ph, pw))


def conv_backward(dout, cache, need_dx=True):
    """Gradients of the convolution.

    With dout[n] laid out as (F, Ho*Wo):
    db[f] = sum_{n,i,j} dout[n, f, i, j]
    dw = sum_n dout[n] @ cols[n].T             (reshaped to (F, C, HH, WW))
    dcols[n] = w.reshape(F, -1).T @ dout[n]    (gradient w.r.t. every window pixel)
    dx = col2im(dcols) with the padding cropped off.
    With ``need_dx=False`` (the first layer of a network: nothing consumes dx) dx is None.
    """
    compiled = _numba.backward_twin("conv", cache)
    if compiled:
        return compiled(dout, cache, need_dx)
    x_pad_shape, cols, w, (sh, sw), (ph, pw) = cache
    n, c, hp, wp = x_pad_shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout3 = dout.reshape(n, f, ho * wo)
    db = dout3.sum(axis=(0, 2))
    dw = (dout3 @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    dcols = w.reshape(f, -1).T @ dout3                        # (N, C*HH*WW, Ho*Wo)
    dx_pad = col2im(dcols.reshape(n, c, kh, kw, ho, wo), x_pad_shape, sh, sw)
    dx = dx_pad[:, :, ph : hp - ph, pw : wp - pw]
    return dx, dw, db
