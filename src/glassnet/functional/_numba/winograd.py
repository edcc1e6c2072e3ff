"""Winograd's minimal filtering F(2x2, 3x3): a 3x3 stride-1 convolution with 2.25x fewer multiplications.

For one input channel, a 4x4 patch ``d`` of the (padded) input and a 3x3 filter ``g`` give the 2x2
outputs of the cross-correlation at the patch's top-left corner as (Lavin and Gray, 2015)::

    y = A^T [ (G g G^T) * (B^T d B) ] A          (* element by element; 16 products instead of 36)

        B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
              [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
              [0 -1  1  0]         [1/2 -1/2  1/2]
              [0  1  0 -1]         [ 0    0    1 ]

Summed over the input channels the element-wise products become 16 matrix products, one per
position e of the 4x4 transformed tile::

    U[e] = (G w[f, c] G^T)[e]       (16, F, C)   the filters, transformed once
    V[e] = (B^T d[c, tile] B)[e]    (16, C, T)   every 2x2-output tile of one image (T tiles)
    M[e] = U[e] @ V[e]              (16, F, T)   16 small BLAS products
    y[f, tile] = A^T M[:, f, tile] A + b[f]      (2x2 outputs per tile)

On narrow outputs with enough channels (:func:`channels_last`; for the filter gradient
:func:`filter_gradient_channels_last`) the inputs are transformed channels last, V[e]
(T, C), and the products are M[e] (T, F) = V[e] @ U[e] with U[e] stored (C, F): the same sums and
the same dot products, in loops that run along the channels rather than along a short row of tiles.

The transforms only add and subtract (and halve, in G), so the result differs from the direct sum
by rounding alone: ~1e-16 relative in float64, ~1e-7 in float32 (tested against PyTorch). A NaN in
the input reaches exactly the outputs it reaches in the direct sum; an infinite one reaches the
same outputs, some of them as NaN where the direct sum gives +-inf (the transforms subtract it from
itself).

The filter gradient follows from y = A^T (U * V) A by the chain rule, per tile::

    dP = A dy A^T                   (4x4 from the tile's 2x2 output gradient dy)
    dU[e] = sum over images and tiles of dP[e, f, tile] V[e, c, tile]   16 products (F, T) @ (T, C)
    dw[f, c] = G^T dU[:, f, c] G    (3x3 from 4x4)

which is the exact gradient of the convolution (the forward equals it exactly, up to rounding).

Used where it applies (:func:`applies`: 3x3 kernel, stride 1, no dilation, one group, an even
output height and width of at least MIN_PIXELS pixels, at least MIN_CHANNELS input channels) by
the compiled convolution (its forward, its dx, which is such a convolution of dout, and its filter
gradient) and the inference plan. A 2x2 max pool with stride 2 after it is the maximum of each tile's four outputs, taken in
the output transform (``pool``).
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u8

from .jit import kernel
from .pool import _nanmax

MIN_CHANNELS = 8
"""Fewest input channels for Winograd. With fewer (a first layer on RGB images) the 16 products
have an inner dimension of C < 8, and the output transform, whose cost does not depend on C,
outweighs the multiplications saved."""


MIN_PIXELS = 64
"""Smallest output (Ho*Wo) for Winograd. Measured (64 channels, batch 128, one thread): on 8x8 maps
forward 5.3 ms against 8.7 by columns, backward 13.0 against 18.6; on 4x4 maps it still gains a
little (2.4 against 3.1, 6.2 against 7.3), but leaving maps under 8x8 to the columns spares small
models (the default digits run: 4x4 maps) compiling the Winograd kernels on first use (BENCHMARKS.md)."""


def applies(kernel, stride, dilation, groups, out_hw, in_channels):
    """True if F(2x2, 3x3) computes this convolution (see the module docstring)."""
    return (tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and out_hw[0] % 2 == 0 and out_hw[1] % 2 == 0 and out_hw[0] * out_hw[1] >= MIN_PIXELS
            and in_channels >= MIN_CHANNELS)


def transform_filters(w, dtype, last=False):
    """U (16, F, C): U[4*i + j, f, c] = (G w[f, c] G^T)[i, j], computed in float64, rounded once to
    ``dtype`` (:func:`_filter_transform`); with ``last`` (a channels-last :func:`scratch`) each U[e]
    transposed, (16, C, F), the right-hand factor of M[e] = V[e] @ U[e]."""
    w = np.ascontiguousarray(w)
    u = np.empty((16, w.shape[0], w.shape[1]), dtype=dtype)
    _filter_transform(w, u)
    return np.ascontiguousarray(u.transpose(0, 2, 1)) if last else u


def filter_gradient(du):
    """dw (F, C, 3, 3) = G^T dU G per (f, c) from dU (16, F, C), in float64 (:func:`_filter_gradient`)."""
    dw = np.empty((du.shape[1], du.shape[2], 3, 3))
    _filter_gradient(np.ascontiguousarray(du), dw)
    return dw


@njit(inline="always")
def _times_g(a0, a1, a2):  # pragma: no cover - compiled
    """G (a0, a1, a2) = (a0, (a0 + a1 + a2)/2, (a0 - a1 + a2)/2, a2)."""
    return a0, 0.5 * (a0 + a1 + a2), 0.5 * (a0 - a1 + a2), a2


@njit(inline="always")
def _times_gt(d0, d1, d2, d3):  # pragma: no cover - compiled
    """G^T (d0, d1, d2, d3) = (d0 + (d1 + d2)/2, (d1 - d2)/2, (d1 + d2)/2 + d3)."""
    return d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2), 0.5 * (d1 + d2) + d3


_BLOCK = 16
"""Filters per block in the filter transforms: U's 16 rows (and dU's) lie F*C values apart, a
multiple of 4 KiB for 32 or 64 channels, so writing (or reading) the 16 values of one filter at a
time would make them evict each other from L1 (see ROW_PAD); a block of 16 filters is computed
into a small array and written out one 64-byte run per row instead."""


@kernel
def _filter_transform(w, u):  # pragma: no cover - compiled
    """u[4*i + j, f, c] = (G w[f, c] G^T)[i, j] in float64 (rounded when stored in u): G applied to
    the three columns of each 3x3 filter, then to the four rows of the result, a block of _BLOCK
    filters at a time. 64 x 64 filters, caches cold (as after a layer): 0.09 ms, against 0.2-0.3 ms
    for two np.tensordot and a transposing copy."""
    n = w.shape[0] * w.shape[1]
    filters, flat = w.reshape(n, 3, 3), u.reshape(16, n)
    block = np.empty((_BLOCK, 16))
    for k0 in range(0, n, _BLOCK):
        k1 = min(n, k0 + _BLOCK)
        for k in range(k0, k1):
            g, b = filters[k], block[k - k0]
            t0, t1, t2, t3 = _times_g(np.float64(g[0, 0]), np.float64(g[1, 0]), np.float64(g[2, 0]))  # column 0 of G g
            m0, m1, m2, m3 = _times_g(np.float64(g[0, 1]), np.float64(g[1, 1]), np.float64(g[2, 1]))
            n0, n1, n2, n3 = _times_g(np.float64(g[0, 2]), np.float64(g[1, 2]), np.float64(g[2, 2]))
            for i, (a0, a1, a2) in enumerate(((t0, m0, n0), (t1, m1, n1), (t2, m2, n2), (t3, m3, n3))):
                b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3] = _times_g(a0, a1, a2)
        for e in range(16):
            dst = flat[e]
            for k in range(k0, k1):
                dst[k] = block[k - k0, e]


@kernel
def _filter_gradient(du, dw):  # pragma: no cover - compiled
    """dw[f, c] = G^T dU[:, f, c] G (3x3 from the 4x4 dU[4*i + j, f, c]) in float64: G^T on the four
    columns, then on the three rows of the result, a block of _BLOCK filters at a time."""
    n = dw.shape[0] * dw.shape[1]
    flat, out = du.reshape(16, n), dw.reshape(n, 3, 3)
    block = np.empty((_BLOCK, 16))
    for k0 in range(0, n, _BLOCK):
        k1 = min(n, k0 + _BLOCK)
        for e in range(16):
            src = flat[e]
            for k in range(k0, k1):
                block[k - k0, e] = src[k]
        for k in range(k0, k1):
            d, o = block[k - k0], out[k]
            cols = (_times_gt(d[0], d[4], d[8], d[12]), _times_gt(d[1], d[5], d[9], d[13]),
                    _times_gt(d[2], d[6], d[10], d[14]), _times_gt(d[3], d[7], d[11], d[15]))  # G^T dU, column j
            for a in range(3):
                o[a, 0], o[a, 1], o[a, 2] = _times_gt(cols[0][a], cols[1][a], cols[2][a], cols[3][a])


TILES_PER_PRODUCT = 64
"""Images are grouped so that one product covers about this many tiles (four 8x8 images, one 16x16
or larger): with one 8x8 image a product is (F, C) @ (C, 16), mostly overhead. Measured (batch 128,
one thread): the filter gradient of 64 channels on 8x8 images, one image per product 12.4 ms, four
10.5 ms; a forward and backward with 128 to 512 tiles per product is no faster on 8x8, 16x16 or
32x32 images (within the 10 % run-to-run noise)."""


def group_size(ho, wo):
    """Images per product (TILES_PER_PRODUCT tiles, at least one image)."""
    return max(1, TILES_PER_PRODUCT // ((ho // 2) * (wo // 2)))


ROW_PAD = 16
"""Extra elements at the end of each of the 16 rows of the V, M and dP buffers. Their 16 rows are
read or written together, element by element; rows a multiple of 4 KiB apart (C*T = 64*64 floats,
for example) fall in the same sets of the L1 cache and evict each other. 64 bytes more per row
spreads them (measured, input transform of 64 channels on 8x8 images, batch 128: 2.75 -> 1.5 ms)."""


CONV_LAST_BELOW = 16
LAST_MIN_CHANNELS = 16
LAST_MAX_ROW = 1024
"""Which convolutions transform their inputs channels last (:func:`channels_last`, for a forward or
an input gradient; :func:`filter_gradient_channels_last`). The input transform's inner loop runs
along a row of tiles (Wo/2 of them) channels first, along the channels channels last; a loop shorter
than one vector register (16 float32 with AVX-512) runs one value at a time, so channels last needs
at least LAST_MIN_CHANNELS channels. It costs a transposing copy of each image, whose writes touch a
new cache line per value: it pays while one row's lines stay in L1 (Wo*C at most LAST_MAX_ROW). A
convolution's outputs must then be placed from the (T, F) layout into F planes, which the filter
gradient (no output transform) does not do: a convolution goes channels last only on outputs
narrower than CONV_LAST_BELOW, its filter gradient wherever the channels outnumber the tiles of a
row (C > Wo/2).

Measured on the Intel machine of BENCHMARKS.md (batch 128, one thread; time channels last /
channels first, < 1: channels last faster). Forward: 16 -> 16, 32 -> 32, 32 -> 64, 64 -> 64 on
16x16 maps 1.06, 1.05, 1.19, 1.11; 16, 32, 64 channels on 8x8 0.80, 0.74, 0.79, 64 -> 128 0.84,
128 -> 128 1.07 (an earlier pass: 0.93), 256 -> 256 1.10 (batch 64); 16 -> 32 on 32x32 1.69. Filter
gradient: 16, 32, 64 channels on 16x16 0.89, 0.69, 0.81, on 8x8 0.76, 0.68, 0.73, 128 on 8x8 0.95;
on 32x32 32 channels 0.89, 32 -> 64 0.68, but 16 channels 1.24 and 64 1.07; 128 on 16x16 1.07, 8
channels 1.22-1.23."""


def _last_fits(wo, c):
    """What both layout rules ask of channels last: the channels fill a vector (LAST_MIN_CHANNELS) and
    a row of the transposed image stays in L1 (Wo*C at most LAST_MAX_ROW)."""
    return LAST_MIN_CHANNELS <= c and wo * c <= LAST_MAX_ROW


def channels_last(wo, c):
    """Whether a convolution (a forward, or an input gradient) of ``c`` input channels with outputs
    ``wo`` pixels wide transforms its inputs channels last (see CONV_LAST_BELOW)."""
    return wo < CONV_LAST_BELOW and _last_fits(wo, c)


def filter_gradient_channels_last(wo, c):
    """Whether the filter gradient of a convolution of ``c`` input channels with outputs ``wo`` pixels
    wide transforms its inputs channels last (see CONV_LAST_BELOW)."""
    return 2 * c > wo and _last_fits(wo, c)


def scratch(c, f, ho, wo, group, dtype, last):
    """The buffers of one thread for ``group`` images per product, in the layout ``last`` says
    (:func:`channels_last` or :func:`filter_gradient_channels_last`): the flag itself, the padded
    image, (C, Ho+2, Wo+2) or channels last (Ho+2, Wo+2, C)
    (zeros, of which :func:`_pad_image` overwrites the image's place only: a buffer serves one
    padding), the rows of B^T d (4, Wo+2) or (4, (Wo+2)*C), V (16, C*G*T + ROW_PAD), M or dP
    (16, F*G*T + ROW_PAD) and the output transform's rows (4, F*G*T). Row e of V holds the matrix
    V[e] for the images of one product, flattened: (C, G*T), or (G*T, C) channels last; row e of
    M holds M[e] (F, G*T), or (G*T, F) channels last, and row e of dP always dP[e] (F, G*T)."""
    t = group * (ho // 2) * (wo // 2)
    return (last, np.zeros((ho + 2, wo + 2, c) if last else (c, ho + 2, wo + 2), dtype),
            np.empty((4, (wo + 2) * c if last else wo + 2), dtype),
            np.empty((16, c * t + ROW_PAD), dtype), np.empty((16, f * t + ROW_PAD), dtype),
            np.empty((4, f * t), dtype))


@kernel
def _matrix(buf, e, rows, cols):  # pragma: no cover - compiled
    """Row e of a V, M or dP buffer seen as the (rows, cols) matrix it holds (a view)."""
    return buf[e, : rows * cols].reshape(rows, cols)


@kernel
def _pad_image(x, n, ph, pw, xp):  # pragma: no cover - compiled
    """xp[c, ph + h, pw + j] = x[n, c, h, j]: image n of x placed in the padded buffer. The rest of
    xp (the padding) is zero from :func:`scratch` and never written, so each image costs only the
    copy of its rows (128 images of 64 channels, 8x8: 0.36 -> 0.13 ms against rewriting the zeros)."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    for c in range(C):
        for h in range(H):
            src, row = x[n, c, h], xp[c, h + ph]
            for j in range(u8(W)):
                row[u8(pw) + j] = src[j]


@kernel
def _input_transform(xp, th_n, tw_n, s, v, count, off):  # pragma: no cover - compiled
    """V[4*i + j][c, off + th*TW + tw] = (B^T d B)[i, j] for the 4x4 patch d of xp[c] at (2*th, 2*tw),
    V[e] (C, count) being row e of ``v`` (see :func:`scratch`).

    B^T d first, for a whole band of four padded rows at once (contiguous), then (.) B on every
    tile of the band: columns 2*tw .. 2*tw + 3.
    """
    C, wp = xp.shape[0], xp.shape[2]
    for c in range(C):
        for th in range(th_n):
            r0, r1, r2, r3 = xp[c, 2 * th], xp[c, 2 * th + 1], xp[c, 2 * th + 2], xp[c, 2 * th + 3]
            for j in range(u8(wp)):
                s[0, j] = r0[j] - r2[j]
                s[1, j] = r1[j] + r2[j]
                s[2, j] = r2[j] - r1[j]
                s[3, j] = r1[j] - r3[j]
            base = u8(c * count + off + th * tw_n)
            for i in range(4):
                si = s[i]
                v0, v1, v2, v3 = v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]
                for t in range(u8(tw_n)):
                    a0, a1, a2, a3 = si[2 * t], si[2 * t + u8(1)], si[2 * t + u8(2)], si[2 * t + u8(3)]
                    v0[base + t] = a0 - a2
                    v1[base + t] = a1 + a2
                    v2[base + t] = a2 - a1
                    v3[base + t] = a1 - a3


@kernel
def _output_transform(m, bias, th_n, tw_n, pool, last, z, y):  # pragma: no cover - compiled
    """y[g, f, 2*th + i, 2*tw + j] = (A^T m A)[i, j] + bias[f], m = M[:][f, (g*TH + th)*TW + tw] as a
    4x4 tile, for the G images of y (G, F, Ho, Wo); M[e] (F, G*TH*TW), or (G*TH*TW, F) when ``last``,
    is row e of ``m`` (see :func:`scratch`).

    With ``pool``: y[g, f, th, tw] = the maximum of the tile's four outputs, plus bias[f] (a 2x2 max
    pool with stride 2; a NaN output makes a NaN maximum, as in the max pool kernel). First the
    four outputs of every tile in one flat pass (``z``), then their places in y
    (:func:`_place_outputs`).
    """
    n = y.shape[1] * y.shape[0] * th_n * tw_n
    m0, m1, m2, m3, m4, m5, m6, m7 = m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]
    m8, m9, m10, m11, m12, m13, m14, m15 = m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for t in range(u8(n)):
        # A^T m: rows 0 + 1 + 2 and 1 - 2 - 3 of the tile, for each of its four columns
        a0, a1, a2, a3 = m0[t] + m4[t] + m8[t], m1[t] + m5[t] + m9[t], m2[t] + m6[t] + m10[t], m3[t] + m7[t] + m11[t]
        b0, b1, b2, b3 = m4[t] - m8[t] - m12[t], m5[t] - m9[t] - m13[t], m6[t] - m10[t] - m14[t], m7[t] - m11[t] - m15[t]
        # (.) A: columns 0 + 1 + 2 and 1 - 2 - 3
        z0[t] = a0 + a1 + a2
        z1[t] = a1 - a2 - a3
        z2[t] = b0 + b1 + b2
        z3[t] = b1 - b2 - b3
    if last:
        _place_outputs_last(z, bias, th_n, tw_n, pool, y)
    else:
        _place_outputs(z, bias, th_n, tw_n, pool, y)


@njit(inline="always")
def _tile_max(z0, z1, z2, z3, k):  # pragma: no cover - compiled
    """The maximum of a tile's four outputs z0[k] .. z3[k] (a NaN wins, as in the max pool kernel)."""
    return _nanmax(_nanmax(z0[k], z1[k]), _nanmax(z2[k], z3[k]))


@kernel
def _place_outputs(z, bias, th_n, tw_n, pool, y):  # pragma: no cover - compiled
    """y from the tiles' four outputs z[k][(f*G + g)*TH*TW + th*TW + tw] (k = 2*i + j), plus bias
    (see :func:`_output_transform`): a row of tiles at a time."""
    count = u8(tw_n)
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for g in range(y.shape[0]):
        for f in range(y.shape[1]):
            b = bias[f]
            for th in range(th_n):
                base = u8((f * y.shape[0] + g) * th_n * tw_n + th * tw_n)
                if pool:
                    row = y[g, f, th]
                    for t in range(count):
                        row[t] = _tile_max(z0, z1, z2, z3, base + t) + b
                else:
                    y0, y1 = y[g, f, 2 * th], y[g, f, 2 * th + 1]
                    for t in range(count):
                        y0[2 * t] = z0[base + t] + b
                        y0[2 * t + u8(1)] = z1[base + t] + b
                        y1[2 * t] = z2[base + t] + b
                        y1[2 * t + u8(1)] = z3[base + t] + b


@kernel
def _place_outputs_last(z, bias, th_n, tw_n, pool, y):  # pragma: no cover - compiled
    """:func:`_place_outputs` from channels-last outputs z[k][((g*TH + th)*TW + tw)*F + f]: the
    filters of one tile at a time (the reads run along z, the writes go to F planes)."""
    F = y.shape[1]
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for g in range(y.shape[0]):
        for th in range(th_n):
            for t in range(tw_n):
                base = u8(((g * th_n + th) * tw_n + t) * F)
                if pool:
                    for f in range(u8(F)):
                        y[g, f, th, t] = _tile_max(z0, z1, z2, z3, base + f) + bias[f]
                else:
                    for f in range(u8(F)):
                        b = bias[f]
                        y[g, f, 2 * th, 2 * t] = z0[base + f] + b
                        y[g, f, 2 * th, 2 * t + 1] = z1[base + f] + b
                        y[g, f, 2 * th + 1, 2 * t] = z2[base + f] + b
                        y[g, f, 2 * th + 1, 2 * t + 1] = z3[base + f] + b


@kernel
def _pad_image_last(x, n, ph, pw, xp):  # pragma: no cover - compiled
    """xp[ph + h, pw + j, c] = x[n, c, h, j]: :func:`_pad_image` for a channels-last buffer (a
    transposing copy; one row h of the image at a time, so its writes stay in a few cache lines)."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    for h in range(H):
        row = xp[h + ph]
        for c in range(C):
            src = x[n, c, h]
            for j in range(u8(W)):
                row[u8(pw) + j, c] = src[j]


@kernel
def _input_transform_last(xp, th_n, tw_n, s, v, off):  # pragma: no cover - compiled
    """:func:`_input_transform` channels last: V[4*i + j][off + th*TW + tw, c] = (B^T d B)[i, j] for
    the 4x4 patch d of channel c at (2*th, 2*tw) of xp (Ho+2, Wo+2, C), V[e] (count, C) being row e
    of ``v``. The same sums in the same order, so V holds the same values, transposed.

    B^T d for a whole band of four padded rows at once (each row is (Wo+2)*C contiguous values),
    then (.) B on every tile of the band, the channels innermost."""
    C = xp.shape[2]
    n = u8(xp.shape[1] * C)
    for th in range(th_n):
        r0, r1 = xp[2 * th].reshape(n), xp[2 * th + 1].reshape(n)
        r2, r3 = xp[2 * th + 2].reshape(n), xp[2 * th + 3].reshape(n)
        for k in range(n):
            s[0, k] = r0[k] - r2[k]
            s[1, k] = r1[k] + r2[k]
            s[2, k] = r2[k] - r1[k]
            s[3, k] = r1[k] - r3[k]
        for i in range(4):
            si = s[i]
            v0, v1, v2, v3 = v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]
            for t in range(tw_n):
                q, col = u8((off + th * tw_n + t) * C), u8(2 * t * C)
                for c in range(u8(C)):
                    a0, a1 = si[col + c], si[col + u8(C) + c]
                    a2, a3 = si[col + u8(2 * C) + c], si[col + u8(3 * C) + c]
                    v0[q + c] = a0 - a2
                    v1[q + c] = a1 + a2
                    v2[q + c] = a2 - a1
                    v3[q + c] = a1 - a3


@njit(inline="always")
def _tile_grid(last, xp):  # pragma: no cover - compiled
    """(Ho/2, Wo/2): the tiles along the height and the width of the padded image ``xp``."""
    if last:
        return (xp.shape[0] - 2) // 2, (xp.shape[1] - 2) // 2
    return (xp.shape[1] - 2) // 2, (xp.shape[2] - 2) // 2


@kernel
def _transform_inputs(x, g0, g1, ph, pw, last, xp, s, vbuf):  # pragma: no cover - compiled
    """V[e] in row e of ``vbuf``: the transformed tiles of images g0 <= n < g1 of x, image n's at
    tiles (n - g0)*T .. (n - g0 + 1)*T - 1 (each image padded into ``xp`` first); V[e] is (C, G*T),
    or (G*T, C) when ``last`` (see :func:`scratch`)."""
    th_n, tw_n = _tile_grid(last, xp)
    tiles = th_n * tw_n
    for n in range(g0, g1):
        if last:
            _pad_image_last(x, n, ph, pw, xp)
            _input_transform_last(xp, th_n, tw_n, s, vbuf, (n - g0) * tiles)
        else:
            _pad_image(x, n, ph, pw, xp)
            _input_transform(xp, th_n, tw_n, s, vbuf, (g1 - g0) * tiles, (n - g0) * tiles)


@kernel
def conv_images(x, lo, hi, group, u, bias, ph, pw, pool, last, xp, s, vbuf, mbuf, zbuf, out):  # pragma: no cover - compiled
    """out[n] (F, Ho, Wo), or (F, Ho/2, Wo/2) with ``pool``, = the 3x3 stride-1 convolution of image
    n of x (N, C, H, W) with padding (ph, pw), plus bias, for lo <= n < hi: pad and transform
    ``group`` images, 16 products, transform back (``out`` indexed from lo: out[n - lo]). ``last``
    and the buffers come from :func:`scratch`, ``u`` from :func:`transform_filters` with the same
    ``last``."""
    c, f = (u.shape[1], u.shape[2]) if last else (u.shape[2], u.shape[1])
    th_n, tw_n = _tile_grid(last, xp)
    tiles = th_n * tw_n
    for g0 in range(lo, hi, group):
        g1 = min(hi, g0 + group)
        count = (g1 - g0) * tiles
        _transform_inputs(x, g0, g1, ph, pw, last, xp, s, vbuf)
        for e in range(16):
            if last:  # M[e] (count, F) = V[e] (count, C) @ U[e] (C, F)
                np.dot(_matrix(vbuf, e, count, c), u[e], _matrix(mbuf, e, count, f))
            else:  # M[e] (F, count) = U[e] (F, C) @ V[e] (C, count)
                np.dot(u[e], _matrix(vbuf, e, c, count), _matrix(mbuf, e, f, count))
        _output_transform(mbuf, bias, th_n, tw_n, pool, last, zbuf, out[g0 - lo : g1 - lo])


@kernel
def _gradient_transform(dout, n, th_n, tw_n, d, count, off):  # pragma: no cover - compiled
    """dP[4*i + j][f, off + th*TW + tw] = (A dy A^T)[i, j] for the 2x2 block dy of dout[n, f] at (2*th, 2*tw),
    dP[e] (F, count) being row e of ``d`` (see :func:`scratch`).

    With dy = [[a, b], [c, e]]: A dy has the rows (a, b), (a + c, b + e), (a - c, b - e), (-c, -e),
    and each row (p, q) times A^T is (p, p + q, p - q, -q).
    """
    F = dout.shape[1]
    for f in range(F):
        for th in range(th_n):
            y0, y1 = dout[n, f, 2 * th], dout[n, f, 2 * th + 1]
            base = u8(f * count + off + th * tw_n)
            for i in range(4):  # row i of A dy, then times A^T
                d0, d1, d2, d3 = d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]
                for t in range(u8(tw_n)):
                    a, b, c, e = y0[2 * t], y0[2 * t + u8(1)], y1[2 * t], y1[2 * t + u8(1)]
                    if i == 0:
                        p, q = a, b
                    elif i == 1:
                        p, q = a + c, b + e
                    elif i == 2:
                        p, q = a - c, b - e
                    else:
                        p, q = -c, -e
                    d0[base + t] = p
                    d1[base + t] = p + q
                    d2[base + t] = p - q
                    d3[base + t] = -q


@kernel
def filter_grad_images(x, dout, lo, hi, group, ph, pw, last, xp, s, vbuf, dbuf, prod, du):  # pragma: no cover - compiled
    """du (16, F, C) += sum over the tiles of images lo <= n < hi of dP[e] @ V[e].T (see the module
    docstring), ``group`` images per product: V[e] (C, G*T), or (G*T, C) when ``last``, and dP[e]
    (F, G*T) are the rows of ``vbuf`` and ``dbuf`` (see :func:`scratch`); ``prod`` (F, C) holds one
    product."""
    ho, wo = dout.shape[2], dout.shape[3]
    th_n, tw_n = ho // 2, wo // 2
    tiles = th_n * tw_n
    f, c = prod.shape
    for g0 in range(lo, hi, group):
        g1 = min(hi, g0 + group)
        count = (g1 - g0) * tiles
        _transform_inputs(x, g0, g1, ph, pw, last, xp, s, vbuf)
        for n in range(g0, g1):
            _gradient_transform(dout, n, th_n, tw_n, dbuf, count, (n - g0) * tiles)
        for e in range(16):
            if last:
                _add_product(_matrix(dbuf, e, f, count), _matrix(vbuf, e, count, c), prod, du[e])
            else:
                _add_product(_matrix(dbuf, e, f, count), _matrix(vbuf, e, c, count).T, prod, du[e])


@njit(inline="always")
def _add_product(a, b, prod, acc):  # pragma: no cover - compiled
    """acc += a @ b, the product formed in ``prod`` first (numba's np.dot cannot add into its output)."""
    np.dot(a, b, prod)
    for i in range(acc.shape[0]):
        for j in range(u8(acc.shape[1])):
            acc[i, j] += prod[i, j]
