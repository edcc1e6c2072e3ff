"""2-D convolution layer (as in every CNN library, it is cross-correlation: the kernel is not flipped)."""
from __future__ import annotations

from ..backend import array_module
from ._windows import col2im, output_size, pair, windows


def conv_forward(x, w, b, stride=1, pad=0):
    """Cross-correlation of a batch of images with a bank of filters, via im2col.

    out[n, f, i, j] = b[f] + sum_{c, a, b'} w[f, c, a, b'] * xp[n, c, i*s + a, j*s + b']

    where xp is x zero-padded by ``pad`` on each side. Shapes: x (N, C, H, W), w (F, C, HH, WW),
    b (F,), out (N, F, Ho, Wo) with Ho = (H + 2*pad - HH) // stride + 1 (likewise Wo).
    ``stride`` and ``pad`` are ints or (vertical, horizontal) pairs.
    Implementation: the windows of xp form the matrix cols (N*Ho*Wo, C*HH*WW) and
    out = cols @ w.reshape(F, -1).T + b is one matrix product.
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
    sh, sw = pair(stride, "stride")
    ph, pw = pair(pad, "pad")
    ho = output_size("conv_forward", h, kh, sh, ph)
    wo = output_size("conv_forward", wd, kw, sw, pw)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if (ph or pw) else x
    cols = windows(x_pad, kh, kw, sh, sw).transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    out = cols @ w.reshape(f, -1).T + b
    out = out.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)
    return xp.ascontiguousarray(out), (x_pad.shape, cols, w, (sh, sw), (ph, pw))


def conv_backward(dout, cache):
    """Gradients of the convolution.

    With dout2 = dout laid out as (N*Ho*Wo, F):
    db[f] = sum_{n,i,j} dout[n, f, i, j]
    dw = dout2.T @ cols                      (reshaped to (F, C, HH, WW))
    dcols = dout2 @ w.reshape(F, -1)         (gradient w.r.t. every window)
    dx = col2im(dcols) with the padding cropped off.
    """
    x_pad_shape, cols, w, (sh, sw), (ph, pw) = cache
    n, c, hp, wp = x_pad_shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout2 = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    db = dout2.sum(axis=0)
    dw = (dout2.T @ cols).reshape(w.shape)
    dcols = (dout2 @ w.reshape(f, -1)).reshape(n, ho, wo, c, kh, kw).transpose(0, 3, 1, 2, 4, 5)
    dx_pad = col2im(dcols, x_pad_shape, sh, sw)
    dx = dx_pad[:, :, ph : hp - ph, pw : wp - pw]
    return dx, dw, db
