"""Stride-1 convolutions by kernel rows: whole image rows in one product, the kernel's columns as shifts.

The columns of :mod:`conv` hold one row per (c, a, b) and one column per output pixel, gathered as
C*kh*kw runs of Wo values per output row. When a kernel column b moves one pixel to the right, it
reads the same image row shifted by one, so the taps b can be left out of the product and applied
to its result instead. For image n, padded by (ph, pw) (xp, rows Wp = W + 2*pw wide), and the first
``rows`` output rows:

    R[c*kh + a, i*Wp + j] = xp[c, i + a, j]                  (C*kh, rows*Wp)    :func:`_kernel_rows`
    O = Wr @ R,   Wr[b*F + f, c*kh + a] = w[f, c, a, b]      (kw*F, rows*Wp)    :func:`rows_weight`
    z[i*Wp + j] = sum_b O[b*F + f, i*Wp + j + b]             = conv(x)[n, f, i, j] - bias, for j < Wo

R is C*kh runs of whole rows (one run when unpadded) instead of C*kh*kw*Ho runs of Wo; the product
has Wp/Wo times as many columns, the positions j >= Wo of each row of z (their sums wrap into the
next row) being dropped. It pays for small channel counts, where the gather costs more than the
product (:func:`applies`). The backward keeps the columns (:mod:`conv`), which give dw and dx from
the same input; the inference plan runs the pooled form (``inference/_compiled.conv_rows_relu_pool``).
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u8

from .._windows import pair
from .jit import kernel

MIN_ROWS = 16
MAX_EXTRA = 8
MAX_BYTES = 1 << 23
"""A convolution runs by kernel rows (:func:`applies`) when it has stride 1, no dilation, one group,
a kernel more than one row high, at least MIN_ROWS kernel rows of input (C*kh), F*(Wp - Wo) <=
MAX_EXTRA*Wo (the product's extra (Wp - Wo)/Wo columns, times F filters, cost less than the
gather of kw times as many runs saves) and one image's product O at most MAX_BYTES: each thread
holds one image's R and O, which for a 7x7 layer of 64 filters on a 224x224 image would be 92 MB,
where the column tiles keep to ``conv.TILE_BYTES``. Large images still gain below it (forward, 6 ->
16 5x5: on 36x36, O 360 KiB, 0.74; 60x60, 1 MiB, 0.72; 100x100, 2.9 MiB, 0.92; 8 -> 16 5x5 padded
on 120x120, 4.5 MiB, 0.78).
Measured on the Intel machine of BENCHMARKS.md (one thread, kernel rows / columns, < 1: kernel rows
faster; a training forward at batch 128, then the inference plan's fused step with ReLU and a 2x2
pool at batch 128-256):

| convolution | C*kh | F*(Wp-Wo)/Wo | forward | pooled |
|---|---|---|---|---|
| 6 -> 16, 5x5 on 14x14 (LeNet-5's second) | 30 | 6.4 | 0.77-0.79 | 0.75 |
| 6 -> 16, 5x5 on 15x15 / 28x28 | 30 | 5.8 / 2.7 | 0.72 / 0.81 | 0.57 / 0.64 |
| 4 -> 8, 5x5 on 14x14 | 20 | 3.2 | 0.56 | 0.52 |
| 6 -> 16, 3x3 on 14x14 | 18 | 2.7 | 0.85 | 0.67 |
| 8 -> 16, 5x5 on 12x12 | 40 | 8 | 0.77 | 0.83 |
| 16 -> 32, 5x5 padded 2 on 16x16 | 80 | 8 | 0.82 | 0.81 |
| 16 -> 32, 5x5 on 12x12 (left) | 80 | 16 | 1.26 | 1.20 |
| 32 -> 64, 5x5 padded 2 on 16x16 (left) | 160 | 16 | 0.88 | 0.93 |
| 3 -> 32, 5x5 on 32x32 / 3 -> 16 padded (left) | 15 | 1.1 / 0.5 | 1.27 / 0.92 | 1.03 / 0.96 |
| 1 -> 6, 5x5 padded 2 on 28x28 (LeNet-5's first, left) | 5 | 0.9 | 1.11 | 1.04 |

Signals (1 x r kernels, one kernel row) are left to the columns and Winograd: their forwards by
kernel rows measured 0.88-1.17 (16 -> 32 channels, 7 taps on 1023 samples 1.16, 32 -> 64 on 511
1.17; 16 -> 16, 5 taps on 255 0.90, 64 -> 64, 3 taps on 127 0.88).
"""


def applies(x_shape, w_shape, stride, pad, dilation, groups, itemsize):
    """Whether a convolution of inputs ``x_shape`` (N, C, H, W) by filters ``w_shape`` (F, C, kh, kw)
    with this stride, padding (ph, pw), dilation and groups, on values of ``itemsize`` bytes, runs
    by kernel rows (see MIN_ROWS)."""
    if pair(stride) != (1, 1) or pair(dilation) != (1, 1) or groups != 1:
        return False
    (_, c, h, w), (f, _, kh, kw), (ph, pw) = x_shape, w_shape, pair(pad)
    return pays(c, f, kh, kw, h + 2 * ph - kh + 1, w + 2 * pw, itemsize)


def pays(c, f, kh, kw, ho, wp, itemsize):
    """The cost side of :func:`applies` (Ho output rows, Wp = W + 2*pw, Wo = Wp - kw + 1): a 2-D kernel,
    enough kernel rows of input, few extra product columns, and one image's O within MAX_BYTES."""
    wo = wp - kw + 1
    return (kh > 1 and c * kh >= MIN_ROWS and f * (wp - wo) <= MAX_EXTRA * wo
            and kw * f * ho * wp * itemsize <= MAX_BYTES)


def rows_weight(w, dtype):
    """Wr (kw*F, C*kh): Wr[b*F + f, c*kh + a] = w[f, c, a, b]."""
    f, c, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(3, 0, 1, 2).reshape(kw * f, c * kh), dtype=dtype)


def scratch(c, f, kh, kw, rows, wp, dtype):
    """One thread's buffers for ``rows`` output rows: R (zeros: :func:`_kernel_rows` never writes the
    padding's places), O, and the shifted sums z."""
    cells = rows * wp
    return np.zeros((c * kh, cells), dtype), np.empty((kw * f, cells), dtype), np.empty(cells, dtype)


@kernel
def _kernel_rows(x, n, kh, ph, pw, rows, r):  # pragma: no cover - compiled
    """r[c*kh + a, i*Wp + pw + j] = x[n, c, i + a - ph, j] for the output rows i < ``rows`` whose input
    row exists: for each channel and kernel row, the image rows it meets, Wp apart. The places of
    the padding are never written (a buffer from :func:`scratch` holds their zeros); without
    horizontal padding the rows are one contiguous run."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    wp = W + 2 * pw
    for c in range(C):
        src = x[n, c].reshape(-1)
        for a in range(kh):
            dst = r[c * kh + a]
            i0, i1 = max(0, ph - a), min(rows, H + ph - a)
            if pw == 0:
                first, start = u8((i0 + a - ph) * W), u8(i0 * W)
                for j in range(u8(max(0, i1 - i0) * W)):
                    dst[start + j] = src[first + j]
                continue
            for i in range(i0, i1):
                first, start = u8((i + a - ph) * W), u8(i * wp + pw)
                for j in range(u8(W)):
                    dst[start + j] = src[first + j]


@njit(inline="always")
def shifted_sum(o, g, f, kw, count, z):  # pragma: no cover - compiled
    """z[t] = sum_b o[b*F + g, t + b] for t < ``count``: filter g's outputs, the kernel's columns
    applied as shifts (see the module docstring)."""
    first = o[g]
    for t in range(u8(count)):
        z[t] = first[t]
    for b in range(1, kw):
        shifted, ub = o[b * f + g], u8(b)
        for t in range(u8(count)):
            z[t] += shifted[t + ub]


@kernel
def image_products(x, n, wr, kh, kw, ph, pw, rows, r, o):  # pragma: no cover - compiled
    """O = Wr @ R for image n of x and its first ``rows`` output rows (R and O from :func:`scratch`)."""
    _kernel_rows(x, n, kh, ph, pw, rows, r)
    np.dot(wr, r, o)


@kernel
def conv_images(x, wr, bias, kh, kw, ph, pw, r, o, z, out, lo, hi):  # pragma: no cover - compiled
    """out[n] (F, Ho, Wo) = the stride-1 convolution of image n of x, padded by (ph, pw), plus bias,
    for lo <= n < hi (``out`` indexed from 0 for image lo), by kernel rows."""
    f, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    wp = x.shape[3] + 2 * pw
    for n in range(lo, hi):
        image_products(x, n, wr, kh, kw, ph, pw, ho, r, o)
        for g in range(f):
            shifted_sum(o, g, f, kw, ho * wp - kw + 1, z)
            plane, bg = out[n - lo, g], bias[g]
            for i in range(ho):
                row, first = plane[i], u8(i * wp)
                for j in range(u8(wo)):
                    row[j] = z[first + j] + bg
