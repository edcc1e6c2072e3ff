"""Compiled (numba) kernels of the inference plan: one call per fused op and range of images.

They are built from the training kernels' compiled pieces (the column tiles of
``functional/_numba/conv.py``, the max pooling, ReLU and batch-norm passes of its neighbours), so the inference path
computes the same formulas; what changes is that one call does a whole fused op for a range of
images, writes into buffers the plan allocated once, and keeps nothing for a backward pass (a
convolution that a 2x2 max pool follows may go by kernel rows, ``functional/_numba/kernel_rows.py``,
the pool then taken from its shifted sums: :func:`conv_rows_relu_pool`).
"""
from __future__ import annotations

import numpy as np
from numba import uint64 as u8

from ..functional._numba.activation import _relu_in_place
from ..functional._numba.conv import _im2col, _im2col_same
from ..functional._numba.jit import kernel
from ..functional._numba.kernel_rows import image_products, shifted_sum
from ..functional._numba.norm import _normalize
from ..functional._numba.pool import _max_2x2, _max_pool
from ..functional._numba.pool import _plane_means as plane_means  # noqa: F401 - the global average pool step's kernel
from ..functional._numba.winograd import conv_images as _winograd_images


@kernel
def conv_relu_pool(x, wb, kh, kw, sh, sw, ph, pw, wide, relu, pool, y, cols, out, lo, hi):  # pragma: no cover
    """For the images lo <= n < hi of x (N, C, H, W):

        z = [W | b] @ columns(x[n])          (F, Ho*Wo): convolution and bias in one product
        out[n] = relu(maxpool(z))            (each step optional; ReLU after pooling: they commute)

    ``wb`` (F, C*kh*kw + 1) is the weight with the bias as its last column, ``cols`` (1, C*kh*kw + 1,
    Ho*Wy) the column scratch of one image (its last row is ones), ``y`` (F, Ho, Wy) the scratch of
    the unpooled output; ``pool`` = (size_h, size_w, stride_h, stride_w), or size 0 for none.

    ``wide`` (stride 1, ph < kh, pw < kw, Wo <= W): the columns are gathered as if the output were
    as wide as the input (Wy = W, :func:`_im2col_same`), each tap one contiguous run of the image;
    the product then also computes the W - Wo columns on the right, which wrapped around from the
    next row and are dropped (never pooled, not copied out). Otherwise Wy = Wo.
    """
    f = wb.shape[0]
    ho, wy = y.shape[1], y.shape[2]
    for n in range(lo, hi):
        if wide:
            _im2col_same(x, n, 0, ho, kh, kw, 1, 1, ph, pw, 1, 1, wy, cols)
        else:
            _im2col(x, n, 0, ho, kh, kw, sh, sw, ph, pw, 1, 1, wy, cols)
        if pool[0] == 0 and out.shape[3] == wy:  # unpooled, no dropped columns: straight into out
            np.dot(wb, cols[0], out[n].reshape(f, ho * wy))
        else:
            np.dot(wb, cols[0], y.reshape(f, ho * wy))
            if pool[0] == 0:
                out[n] = y[:, :, : out.shape[3]]  # the Wo columns kept
            else:
                _max_pool(y, pool[0], pool[1], pool[2], pool[3], out[n], 0, f)
        if relu:
            flat = out[n].reshape(-1)
            _relu_in_place(flat, 0, flat.size)


@kernel
def conv_rows_relu_pool(x, wr, bias, kh, kw, ph, pw, relu, r, o, z, out, lo, hi):  # pragma: no cover - compiled
    """conv_relu_pool for a stride-1 convolution followed by a 2x2 max pool of stride 2, by kernel rows
    (``functional/_numba/kernel_rows.py``: Wr, R, O and the shifted sums z, over the 2*Ho/2 output rows
    the pool reads): for the images lo <= n < hi of x,

        out[n, f] = relu(maxpool(z_f) + bias[f])     (the bias after the maximum: the same)

    the pool reading z's rows Wp apart; ``r``, ``o`` and ``z`` come from ``kernel_rows.scratch``.
    """
    f = bias.shape[0]
    ho2, wo2 = out.shape[2], out.shape[3]
    wp = x.shape[3] + 2 * pw
    for n in range(lo, hi):
        image_products(x, n, wr, kh, kw, ph, pw, 2 * ho2, r, o)
        for g in range(f):
            shifted_sum(o, g, f, kw, 2 * ho2 * wp - kw + 1, z)
            plane = out[n, g].reshape(-1)
            for i in range(ho2):
                _max_2x2(z, plane, u8(2 * i * wp), u8(i * wo2), wp, wo2)
            for t in range(u8(plane.size)):
                plane[t] += bias[g]
            if relu:
                _relu_in_place(plane, 0, plane.size)


@kernel
def winograd_conv_relu_pool(x, u, bias, ph, pw, relu, pool, fused_pool, group, scratch, y, out, lo, hi):  # pragma: no cover
    """conv_relu_pool for a 3x3 stride-1 convolution by Winograd F(2x2, 3x3)
    (``functional/_numba/winograd.py``; ``u`` its transformed filters, ``scratch`` its buffers for
    ``group`` images per product): a 2x2 max pool with stride 2 (``fused_pool``) is taken inside
    its output transform, any other pool image by image on ``y`` (1, F, Ho, Wo) afterwards."""
    last, xp, s, vbuf, mbuf, zbuf = scratch
    f = out.shape[1]
    if fused_pool or pool[0] == 0:
        _winograd_images(x, lo, hi, group, u, bias, ph, pw, fused_pool, last, xp, s, vbuf, mbuf, zbuf, out[lo:hi])
    else:
        for n in range(lo, hi):
            _winograd_images(x, n, n + 1, 1, u, bias, ph, pw, False, last, xp, s, vbuf, mbuf, zbuf, y)
            _max_pool(y[0], pool[0], pool[1], pool[2], pool[3], out[n], 0, f)
    if relu:
        for n in range(lo, hi):
            flat = out[n].reshape(-1)
            _relu_in_place(flat, 0, flat.size)


@kernel
def linear_relu(x, w, b, relu, out, lo, hi):  # pragma: no cover - compiled
    """out[n] = relu(x[n] @ w + b) for rows lo <= n < hi of x (N, D); w (D, M), b (M,), out (N, M)."""
    if hi <= lo:
        return
    np.dot(x[lo:hi], w, out[lo:hi])
    m = out.shape[1]
    for n in range(lo, hi):
        row = out[n]
        for j in range(m):
            row[j] += b[j]
        if relu:
            _relu_in_place(row, 0, m)


@kernel
def channel_affine(x, scale, shift, relu, out, lo, hi):  # pragma: no cover - compiled
    """out[n, c, :] = relu(scale[c] * x[n, c, :] + shift[c]) for images lo <= n < hi of x (N, C, M)."""
    c = x.shape[1]
    zero = np.zeros(c, dtype=x.dtype)
    _normalize(x, zero, scale, shift, relu, out, lo * c, hi * c)
