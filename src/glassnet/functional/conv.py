"""Convolution layers, 2-D and 1-D (as in every CNN library, they are cross-correlations: the kernel
is not flipped). A 1-D signal (N, C, L) is an image of height 1, (N, C, 1, L): the 1-D kernels reuse
the 2-D ones."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from . import _numba
from ._windows import col2im, im2col, output_size, pair, single, window_grid


def conv_forward(x, w, b, stride=1, pad=0, dilation=1, groups=1):
    """Cross-correlation of a batch of images with a bank of filters, via im2col.

    out[n, f, i, j] = b[f] + sum_{c, a, b'} w[f, c, a, b'] * xp[n, g*C/G + c, i*s + a*d, j*s + b'*d]

    where xp is x zero-padded by ``pad`` on each side, d the ``dilation`` (taps d pixels apart) and
    g = f // (F/G) the group of filter f: with ``groups`` G, the channels and the filters are split
    into G groups and group g's filters see only group g's channels (G = C: depthwise).
    Shapes: x (N, C, H, W), w (F, C/G, HH, WW), b (F,) (or the scalar 0 for no bias), out (N, F, Ho, Wo)
    with Ho = (H + 2*pad - d*(HH - 1) - 1) // stride + 1 (likewise Wo). ``stride``, ``pad`` and
    ``dilation`` are ints or (vertical, horizontal) pairs.
    Implementation: the windows of each image of xp form the matrix cols[n] (C*HH*WW, Ho*Wo), whose
    rows are grouped by channel group: cols[n, g] (C/G*HH*WW, Ho*Wo). Then
    out[n, g] = w[g].reshape(F/G, -1) @ cols[n, g] + b is ONE batched matrix product over (n, g)
    whose result is already in (N, F, Ho, Wo) order. With numba installed, NumPy arrays take the
    compiled version of the same computation (``_numba/conv.py``, ``conv_forward``: cache-sized
    tiles, no stored columns; depthwise convolutions as direct loops).
    """
    xp = array_module(x)
    if x.ndim != 4:
        raise ValueError(f"conv_forward: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    if w.ndim != 4:
        raise ValueError(f"conv_forward: expected weight of shape (F, C/groups, HH, WW), got {tuple(w.shape)}")
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    groups = _check_groups("conv_forward", c, f, cg, groups, x.shape, w.shape)
    (sh, sw), (ph, pw), (ho, wo) = window_grid("conv_forward", h, wd, kh, kw, stride, pad, dilation)
    dh, dw = pair(dilation, "dilation")
    twin = _numba.twin("conv", x, w, *((b,) if isinstance(b, np.ndarray) else ()))
    if twin:
        return twin.conv_forward(x, w, b, stride, pad, dilation, groups)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if (ph or pw) else x
    cols = im2col(x_pad, kh, kw, sh, sw, dh, dw).reshape(n, groups, cg * kh * kw, ho * wo)
    out = w.reshape(groups, f // groups, -1) @ cols           # (N, G, F/G, Ho*Wo)
    out = out.reshape(n, f, ho * wo)
    out += xp.asarray(b, dtype=out.dtype).reshape(-1, 1)
    return out.reshape(n, f, ho, wo), (x_pad.shape, cols, w, (sh, sw), (ph, pw), (dh, dw))


def _check_groups(name, c, f, cg, groups, x_shape, w_shape):
    """``groups`` as an int after checking that it divides the channels C and filters F and that the
    weight has C/groups input channels; the errors name both shapes."""
    if int(groups) != groups or groups < 1:
        raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    if c % groups or f % groups:
        raise ValueError(
            f"{name}: groups={groups} must divide both the input channels ({c}) and the filters ({f}) "
            f"(x {tuple(x_shape)}, w {tuple(w_shape)})")
    if cg != c // groups and groups == 1:
        raise ValueError(f"{name}: input has {c} channels but the filters expect {cg} (x {tuple(x_shape)}, w {tuple(w_shape)})")
    if cg != c // groups:
        raise ValueError(
            f"{name}: input has {c} channels, so with groups={groups} the filters need {c // groups} input "
            f"channels each, but w has {cg} (x {tuple(x_shape)}, w {tuple(w_shape)})")
    return groups


def conv_backward(dout, cache, need_dx=True, need_db=True):
    """Gradients of the convolution.

    With dout[n] laid out as (G, F/G, Ho*Wo) and cols[n] as (G, C/G*HH*WW, Ho*Wo):
    db[f] = sum_{n,i,j} dout[n, f, i, j]
    dw[g] = sum_n dout[n, g] @ cols[n, g].T            (reshaped to (F, C/G, HH, WW))
    dcols[n, g] = w[g].reshape(F/G, -1).T @ dout[n, g]  (gradient w.r.t. every window pixel)
    dx = col2im(dcols) with the padding cropped off.
    With ``need_dx=False`` (the first layer of a network: nothing consumes dx) dx is None; with
    ``need_db=False`` (a convolution without bias, before a batch norm) db is None.
    """
    compiled = _numba.backward_twin("conv", cache)
    if compiled:
        return compiled(dout, cache, need_dx, need_db)
    x_pad_shape, cols, w, (sh, sw), (ph, pw), dilation = cache
    n, c, hp, wp = x_pad_shape
    f, _, kh, kw = w.shape
    groups = cols.shape[1]
    ho, wo = dout.shape[2], dout.shape[3]
    dout4 = dout.reshape(n, groups, f // groups, ho * wo)
    db = dout4.sum(axis=(0, 3)).reshape(f) if need_db else None
    dw = (dout4 @ cols.swapaxes(2, 3)).sum(axis=0).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    dcols = w.reshape(groups, f // groups, -1).swapaxes(1, 2) @ dout4   # (N, G, C/G*HH*WW, Ho*Wo)
    dx_pad = col2im(dcols.reshape(n, c, kh, kw, ho, wo), x_pad_shape, sh, sw, *dilation)
    dx = dx_pad[:, :, ph : hp - ph, pw : wp - pw]
    return dx, dw, db


def conv1d_forward(x, w, b, stride=1, pad=0, dilation=1, groups=1):
    """1-D cross-correlation: out[n, f, j] = b[f] + sum_{c, k} w[f, c, k] * xp[n, g*C/G + c, j*s + k*d].

    x (N, C, L), w (F, C/groups, K), b (F,) or 0; out (N, F, Lo), Lo = (L + 2*pad - d*(K - 1) - 1) // s + 1.
    Computed by :func:`conv_forward` on the signal as an image of height 1: x (N, C, 1, L) with a
    (1, K) kernel, stride (1, s), padding (0, pad) and dilation (1, d).
    """
    if x.ndim != 3:
        raise ValueError(f"conv1d_forward: expected input of shape (N, C, L), got {tuple(x.shape)}")
    if w.ndim != 3:
        raise ValueError(f"conv1d_forward: expected weight of shape (F, C/groups, K), got {tuple(w.shape)}")
    s, p, d = single(stride, "stride"), single(pad, "pad"), single(dilation, "dilation")
    # checked here so that a mistake is reported in the signal's terms, not the height-1 image's
    groups = _check_groups("conv1d_forward", x.shape[1], w.shape[0], w.shape[1], groups, x.shape, w.shape)
    output_size("conv1d_forward", x.shape[2], w.shape[2], s, p, d)
    out, cache = conv_forward(x[:, :, None, :], w[:, :, None, :], b, (1, s), (0, p), (1, d), groups)
    return out[:, :, 0, :], cache


def conv1d_backward(dout, cache, need_dx=True, need_db=True):
    """dx (N, C, L) (None if not ``need_dx``), dw (F, C/groups, K), db (F,) (None if not ``need_db``):
    :func:`conv_backward` on the height-1 image."""
    dx, dw, db = conv_backward(dout[:, :, None, :], cache, need_dx, need_db)
    return (None if dx is None else dx[:, :, 0, :]), dw[:, :, 0, :], db
