"""Winograd's minimal filtering F(2, r) for 1-D convolutions: two outputs of an r-tap filter from
r + 1 multiplications instead of 2r (r = 3, 5, 7: 1.5x, 1.67x, 1.75x fewer).

For one input channel, a window d of r + 1 consecutive (padded) samples and a filter g of r taps
give the two outputs of the cross-correlation at the window's start as (Lavin and Gray, 2015;
Toom-Cook on the points 0, 1, -1, 2, -2, 1/2, -1/2 - the first r of them - and infinity)::

    y = A^T [ (G g) * (B^T d) ]          (* element by element; n = r + 1 products)

with the matrices of :data:`TABLES` (B^T (n, n), G (n, r), A^T (2, n)). Summed over the input
channels the element-wise products become n matrix products, one per position e of the
transformed window::

    U[e] = (G w[f, c])[e]             (n, F, C)   the filters, transformed once
    V[e] = (B^T d[c, tile])[e]        (n, C, T)   tile t: samples 2t .. 2t + r of the padded signal
    M[e] = U[e] @ V[e]                (n, F, T)   n BLAS products per signal
    y[f, 2t + i] = sum_e A^T[i, e] M[e][f, t] + b[f]

and the filter gradient, by the chain rule, per tile::

    dP[e][f, t] = sum_i A^T[i, e] dy[f, 2t + i]
    dU[e] = sum over signals of dP[e] V[e]^T                    n products (F, T) @ (T, C)
    dw[f, c, k] = sum_e G[e, k] dU[e][f, c]

The transforms are written out per r (:func:`_input_rows7` and its kin, :func:`_output_transform`):
each output is the sum of the non-zero terms of its row, in order, so an infinite or NaN sample reaches only the outputs whose
windows hold it, as in 2-D (where the direct sum gives +-inf, some become NaN: the transforms
subtract it from itself). B^T and A^T hold multiples of 1/4 (exact in binary floating point); G is
applied in float64 and rounded once. The larger points make the result less exact than the direct
sum: float32 errors of 4e-5 (r = 7) and 2e-5 (r = 5) against 8e-6 for the direct sum on outputs of
size ~70 from 64 channels; float64 ~1e-14 (tested against PyTorch).

Used by the compiled convolution where :func:`applies` (a 1-D convolution: an image of height 1, a
1 x r kernel with r in MATRICES, stride 1, no dilation, one group, at least MIN_CHANNELS input and
output channels, an even output of at least MIN_OUTPUTS samples): its forward, its dx (the same
kind of convolution of dout with the filters flipped) and its filter gradient. The signals run
along the tiles (channels first): a signal's row of tiles is long, unlike a narrow image's. The
filter gradient of a signal that is short enough for its channels transforms channels last instead
(:func:`filter_gradient_channels_last`): V[e] (T, C), the right operand of its products as stored.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit
from numba import uint64 as u8

from . import winograd
from .jit import kernel
from .winograd import ROW_PAD, _add_product, _matrix


TABLES = {
    3: (("-1 0 1 0", "0 1 1 0", "0 -1 1 0", "0 -1 0 1"),
        ("-1 0 0", "1/2 1/2 1/2", "1/2 -1/2 1/2", "0 0 1"),
        ("1 1 1 0", "0 1 -1 1")),
    5: (("4 0 -5 0 1 0", "0 -4 -4 1 1 0", "0 4 -4 -1 1 0", "0 -2 -1 2 1 0", "0 2 -1 -2 1 0", "0 4 0 -5 0 1"),
        ("1/4 0 0 0 0", "-1/6 -1/6 -1/6 -1/6 -1/6", "-1/6 1/6 -1/6 1/6 -1/6", "1/24 1/12 1/6 1/3 2/3",
         "1/24 -1/12 1/6 -1/3 2/3", "0 0 0 0 1"),
        ("1 1 1 1 1 0", "0 1 -1 2 -2 1")),
    7: (("-1 0 21/4 0 -21/4 0 1 0", "0 1 1 -17/4 -17/4 1 1 0", "0 -1 1 17/4 -17/4 -1 1 0",
         "0 1/2 1/4 -5/2 -5/4 2 1 0", "0 -1/2 1/4 5/2 -5/4 -2 1 0", "0 2 4 -5/2 -5 1/2 1 0",
         "0 -2 4 5/2 -5 -1/2 1 0", "0 -1 0 21/4 0 -21/4 0 1"),
        ("-1 0 0 0 0 0 0", "-2/9 -2/9 -2/9 -2/9 -2/9 -2/9 -2/9", "-2/9 2/9 -2/9 2/9 -2/9 2/9 -2/9",
         "1/90 1/45 2/45 4/45 8/45 16/45 32/45", "1/90 -1/45 2/45 -4/45 8/45 -16/45 32/45",
         "32/45 16/45 8/45 4/45 2/45 1/45 1/90", "32/45 -16/45 8/45 -4/45 2/45 -1/45 1/90", "0 0 0 0 0 0 1"),
        ("1 1 1 1 1 1 1 0", "0 1 -1 2 -2 1/2 -1/2 1")),
}
"""r -> the rows of B^T (n, n), G (n, r) and A^T (2, n) of F(2, r) as exact fractions, from the
Toom-Cook construction on the points 0, 1, -1, 2, -2, 1/2, -1/2 (the first r of them) and
infinity (tested: A^T[(G g) * (B^T d)] is the correlation of d and g, in rational arithmetic)."""


def fractions(r):
    """(B^T, G, A^T) of F(2, r) as lists of rows of Fractions."""
    return tuple([[Fraction(v) for v in row.split()] for row in rows] for rows in TABLES[r])


MATRICES = {r: tuple(np.array(m, dtype=np.float64) for m in fractions(r)) for r in TABLES}
"""r -> (B^T, G, A^T) in float64 (the transforms below write out the rows of B^T and A^T)."""


MIN_CHANNELS = 8
"""Fewest input and output channels (as in 2-D: with fewer, the products are too small for the
transforms to pay)."""

MIN_OUTPUTS = 32
"""Shortest output (in samples): each signal is one set of products (F, C) @ (C, T), T = Wo/2."""


def applies(kernel, stride, dilation, groups, pad, out_hw, in_channels, out_channels):
    """True if F(2, r) computes this convolution (see the module docstring)."""
    return (kernel[0] == 1 and kernel[1] in MATRICES and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and pad[0] == 0 and out_hw[0] == 1 and out_hw[1] % 2 == 0
            and out_hw[1] >= MIN_OUTPUTS and min(in_channels, out_channels) >= MIN_CHANNELS)


LAST_MAX_SAMPLES = 16384
"""Which filter gradients transform their inputs channels last (:func:`filter_gradient_channels_last`):
at least ``winograd.LAST_MIN_CHANNELS`` channels (the transform's loop then runs along whole vectors
of channels) and at most this many samples Wo*C per signal. Channels last, the products
dP[e] (F, T) @ V[e] (T, C) take V[e] as it is stored, where channels first OpenBLAS reads a
transposed (C, T): 1.8x faster at (64, 256) @ (256, 32), 1.2x at (128, 128) @ (128, 64); the split
into even and odd samples then writes across the channels, which costs more as the signal grows.

Measured on the Intel machine of BENCHMARKS.md (batch 128, one thread, 7 taps; time channels last /
channels first): 32 -> 64 channels on 512 samples 0.71 (two threads 0.75), 64 -> 128 on 256 1.00,
16 -> 32 on 1024 0.91, 16 on 256 0.91, 32 on 128 0.71, 64 on 64 0.73, 128 on 64 0.70, 128 -> 256 on
128 1.00, 256 on 32 0.94; left channels first: 8 -> 16 on 1024 1.15, 64 on 512 1.03, 32 on 2048
1.00 (batch 64). With 3 and 5 taps the same within 0.05 (8 channels 1.19 and 1.04, 64 on 512 1.07)."""


def filter_gradient_channels_last(wo, c):
    """Whether the filter gradient of a 1-D convolution of ``c`` input channels with outputs ``wo``
    samples long transforms its inputs channels last (see LAST_MAX_SAMPLES)."""
    return winograd.LAST_MIN_CHANNELS <= c and wo * c <= LAST_MAX_SAMPLES


def transform_filters(w, dtype):
    """U (n, F, C): U[e, f, c] = (G w[f, c, 0])[e], in float64, rounded once to ``dtype``."""
    g = MATRICES[w.shape[-1]][1]
    return np.ascontiguousarray(np.einsum("ek,fck->efc", g, np.asarray(w, dtype=np.float64)[:, :, 0]), dtype=dtype)


def filter_gradient(du):
    """dw (F, C, 1, r) = sum_e G[e, k] dU[e, f, c], in float64."""
    g = MATRICES[du.shape[0] - 1][1]
    return np.einsum("ek,efc->fck", g, np.asarray(du, dtype=np.float64))[:, :, None, :]


def scratch(c, f, wo, r, dtype, last=False):
    """The buffers of one thread: the padded signal's even and odd samples (C, Wo/2 + r) each, or
    (Wo/2 + r, C) with ``last`` (zeros, of which :func:`_split_signal` overwrites the signal's place
    only: a buffer serves one padding), V (n, C*T + ROW_PAD), M or dP (n, F*T + ROW_PAD) and two
    rows (2, F*T) for the tiles' outputs or dy's even and odd samples; T = Wo/2 tiles."""
    t, n = wo // 2, r + 1
    samples = (t + r, c) if last else (c, t + r)
    return (np.zeros(samples, dtype), np.zeros(samples, dtype), np.empty((n, c * t + ROW_PAD), dtype),
            np.empty((n, f * t + ROW_PAD), dtype), np.empty((2, f * t), dtype))


def constants(dtype):
    """The coefficients of the written-out transforms below, in ``dtype`` (numba computes a float32
    sample times a Python number in float64): 1/4, 1/2, 5/4, 2, 5/2, 4, 17/4, 5, 21/4."""
    return np.array([0.25, 0.5, 1.25, 2, 2.5, 4, 4.25, 5, 5.25], dtype=dtype)


@njit(inline="always")
def _parity_runs(pw, L):  # pragma: no cover - compiled
    """The samples j of a signal of L samples, padded by pw, whose padded place J = pw + j is even,
    then those whose J is odd, each as (the first such j, its J // 2, how many): every second j."""
    je = pw % 2  # the first j whose J is even
    jo = 1 - je
    return ((u8(je), u8((je + pw) // 2), u8((L - je + 1) // 2)),
            (u8(jo), u8((jo + pw) // 2), u8((L - jo + 1) // 2)))


@kernel
def _split_signal(x, n, pw, xe, xo):  # pragma: no cover - compiled
    """xe[c, J // 2] (J even) or xo[c, J // 2] (J odd) = x[n, c, 0, j], J = pw + j: sample J of the
    padded signal. Tile t's samples 2t + k are then xe[c, t + k // 2] (k even) and xo[c, t + k // 2]
    (k odd): every term of the transforms runs along t."""
    (je, e0, ne), (jo, o0, no) = _parity_runs(pw, x.shape[3])
    for c in range(x.shape[1]):
        src, even, odd = x[n, c, 0], xe[c], xo[c]
        for k in range(ne):
            even[e0 + k] = src[je + 2 * k]
        for k in range(no):
            odd[o0 + k] = src[jo + 2 * k]


@kernel
def _split_signal_last(x, n, pw, xe, xo):  # pragma: no cover - compiled
    """:func:`_split_signal` channels last: xe[J // 2, c] (J even) or xo[J // 2, c] (J odd) =
    x[n, c, 0, j], J = pw + j. Tile t's samples 2t + k of channel c are then at t*C + c + (k // 2)*C
    of xe or xo flattened: the transforms run along (tile, channel) pairs."""
    (je, e0, ne), (jo, o0, no) = _parity_runs(pw, x.shape[3])
    src = x[n, :, 0]
    for k in range(ne):
        even, j = xe[e0 + k], je + 2 * k
        for c in range(x.shape[1]):
            even[c] = src[c, j]
    for k in range(no):
        odd, j = xo[o0 + k], jo + 2 * k
        for c in range(x.shape[1]):
            odd[c] = src[c, j]


# B^T d written out per r, one loop per row e of B^T (a loop that stored all n rows at once would
# read and write through n + 2 arrays, more than LLVM checks for overlap before it vectorises):
# d_k = e[t + (k // 2)*step] for even k, o[t + (k // 2)*step] for odd k; the non-zero terms of the row,
# in order. Channels first, t runs along one channel's tiles and step = 1; channels last, t runs
# along (tile, channel) pairs of the whole signal and step = C. The offsets stay unsigned (step +
# step, not 2 * step, which numba types as a signed int64: the loops then ran 5x slower).
@njit(inline="always")
def _input_rows3(e, o, v, base, n, step):  # pragma: no cover - compiled
    row = v[0]
    for t in range(n):
        row[base + t] = -e[t] + e[t + step]
    row = v[1]
    for t in range(n):
        row[base + t] = o[t] + e[t + step]
    row = v[2]
    for t in range(n):
        row[base + t] = -o[t] + e[t + step]
    row = v[3]
    for t in range(n):
        row[base + t] = -o[t] + o[t + step]


@njit(inline="always")
def _input_rows5(e, o, q, v, base, n, step):  # pragma: no cover - compiled
    two, four, five = q[3], q[5], q[7]
    step2 = step + step
    row = v[0]
    for t in range(n):
        row[base + t] = four * e[t] - five * e[t + step] + e[t + step2]
    row = v[1]
    for t in range(n):
        row[base + t] = -four * o[t] - four * e[t + step] + o[t + step] + e[t + step2]
    row = v[2]
    for t in range(n):
        row[base + t] = four * o[t] - four * e[t + step] - o[t + step] + e[t + step2]
    row = v[3]
    for t in range(n):
        row[base + t] = -two * o[t] - e[t + step] + two * o[t + step] + e[t + step2]
    row = v[4]
    for t in range(n):
        row[base + t] = two * o[t] - e[t + step] - two * o[t + step] + e[t + step2]
    row = v[5]
    for t in range(n):
        row[base + t] = four * o[t] - five * o[t + step] + o[t + step2]


@njit(inline="always")
def _input_rows7(e, o, q, v, base, n, step):  # pragma: no cover - compiled
    quarter, half, q54, two, q52, four, q174, five, q214 = q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8]
    step2 = step + step
    step3 = step2 + step
    row = v[0]
    for t in range(n):
        row[base + t] = -e[t] + q214 * e[t + step] - q214 * e[t + step2] + e[t + step3]
    row = v[1]
    for t in range(n):
        row[base + t] = o[t] + e[t + step] - q174 * o[t + step] - q174 * e[t + step2] + o[t + step2] + e[t + step3]
    row = v[2]
    for t in range(n):
        row[base + t] = -o[t] + e[t + step] + q174 * o[t + step] - q174 * e[t + step2] - o[t + step2] + e[t + step3]
    row = v[3]
    for t in range(n):
        row[base + t] = half * o[t] + quarter * e[t + step] - q52 * o[t + step] - q54 * e[t + step2] + two * o[t + step2] + e[t + step3]
    row = v[4]
    for t in range(n):
        row[base + t] = -half * o[t] + quarter * e[t + step] + q52 * o[t + step] - q54 * e[t + step2] - two * o[t + step2] + e[t + step3]
    row = v[5]
    for t in range(n):
        row[base + t] = two * o[t] + four * e[t + step] - q52 * o[t + step] - five * e[t + step2] + half * o[t + step2] + e[t + step3]
    row = v[6]
    for t in range(n):
        row[base + t] = -two * o[t] + four * e[t + step] + q52 * o[t + step] - five * e[t + step2] - half * o[t + step2] + e[t + step3]
    row = v[7]
    for t in range(n):
        row[base + t] = -o[t] + q214 * o[t + step] - q214 * o[t + step2] + o[t + step3]


@njit(inline="always")
def _input_rows(e, o, r, q, v, base, n, step):  # pragma: no cover - compiled
    """The rows of B^T d for r taps (:func:`_input_rows3` and its kin)."""
    if r == 3:
        _input_rows3(e, o, v, base, n, step)
    elif r == 5:
        _input_rows5(e, o, q, v, base, n, step)
    else:
        _input_rows7(e, o, q, v, base, n, step)


@kernel
def _input_transform(xe, xo, r, q, v, tiles):  # pragma: no cover - compiled
    """V[e][c, t] = (B^T d)[e] for the T tiles of one signal (:func:`_split_signal`), V[e] (C, T)
    being row e of ``v``."""
    for c in range(xe.shape[0]):
        _input_rows(xe[c], xo[c], r, q, v, u8(c * tiles), u8(tiles), u8(1))


@kernel
def _input_transform_last(xe, xo, r, q, v, tiles):  # pragma: no cover - compiled
    """:func:`_input_transform` channels last: V[e][t, c] = (B^T d)[e] (:func:`_split_signal_last`),
    V[e] (T, C) being row e of ``v``: one pass along all (tile, channel) pairs per row."""
    c = u8(xe.shape[1])
    _input_rows(xe.reshape(-1), xo.reshape(-1), r, q, v, u8(0), u8(tiles) * c, c)


@kernel
def _output_transform(m, r, q, bias, tiles, z, y):  # pragma: no cover - compiled
    """y[f, 0, 2t + i] = (A^T m)[i] + bias[f], m = M[:][f, t], for one signal's y (F, 1, Wo); M[e]
    (F, T) is row e of ``m``. The two outputs of every tile first (``z`` (2, F*T): the rows of A^T
    written out per r, one pass along (f, t) each), then their places in y."""
    half, two = q[1], q[3]
    n = u8(y.shape[0] * tiles)
    m0, m1, m2, m3 = m[0], m[1], m[2], m[3]
    z0, z1 = z[0], z[1]
    if r == 3:
        for k in range(n):
            z0[k] = m0[k] + m1[k] + m2[k]
        for k in range(n):
            z1[k] = m1[k] - m2[k] + m3[k]
    elif r == 5:
        m4, m5 = m[4], m[5]
        for k in range(n):
            z0[k] = m0[k] + m1[k] + m2[k] + m3[k] + m4[k]
        for k in range(n):
            z1[k] = m1[k] - m2[k] + two * m3[k] - two * m4[k] + m5[k]
    else:
        m4, m5, m6, m7 = m[4], m[5], m[6], m[7]
        for k in range(n):
            z0[k] = m0[k] + m1[k] + m2[k] + m3[k] + m4[k] + m5[k] + m6[k]
        for k in range(n):
            z1[k] = m1[k] - m2[k] + two * m3[k] - two * m4[k] + half * m5[k] - half * m6[k] + m7[k]
    for f in range(y.shape[0]):
        b, out, base = bias[f], y[f, 0], u8(f * tiles)
        for t in range(u8(tiles)):
            out[2 * t] = z0[base + t] + b
            out[2 * t + u8(1)] = z1[base + t] + b


@kernel
def _gradient_transform(dy, at, z, d):  # pragma: no cover - compiled
    """dP[e][f, t] = A^T[0, e] dy[f, 2t] + A^T[1, e] dy[f, 2t + 1] for one signal's dy (F, 1, Wo),
    dP[e] (F, T) being row e of ``d``: dy's even and odd samples first (``z`` (2, F*T)), then one
    pass along (f, t) per e, a zero coefficient's term left out (so an infinite dy reaches only the
    rows it reaches in the sum)."""
    flat = dy.reshape(-1)
    size = u8(flat.size // 2)
    even, odd = z[0], z[1]
    for k in range(size):
        even[k] = flat[2 * k]
        odd[k] = flat[2 * k + u8(1)]
    for e in range(at.shape[1]):
        a0, a1, row = at[0, e], at[1, e], d[e]
        if a1 == 0:
            for k in range(size):
                row[k] = a0 * even[k]
        elif a0 == 0:
            for k in range(size):
                row[k] = a1 * odd[k]
        else:
            for k in range(size):
                row[k] = a0 * even[k] + a1 * odd[k]


@kernel
def conv_signals(x, lo, hi, u, bias, pw, r, q, xe, xo, vbuf, mbuf, zbuf, out):  # pragma: no cover - compiled
    """out[s] (F, 1, Wo) = the 1 x r stride-1 convolution of signal s of x (N, C, 1, L) with padding
    pw, plus bias, for lo <= s < hi (``out`` indexed from lo): split and transform the signal, n
    products M[e] (F, T) = U[e] (F, C) @ V[e] (C, T), transform back. ``q`` from :func:`constants`,
    the buffers from :func:`scratch`."""
    f, c = u.shape[1], u.shape[2]
    tiles = out.shape[3] // 2
    for s in range(lo, hi):
        _split_signal(x, s, pw, xe, xo)
        _input_transform(xe, xo, r, q, vbuf, tiles)
        for e in range(u.shape[0]):
            np.dot(u[e], _matrix(vbuf, e, c, tiles), _matrix(mbuf, e, f, tiles))
        _output_transform(mbuf, r, q, bias, tiles, zbuf, out[s - lo])


@kernel
def filter_grad_signals(x, dout, lo, hi, pw, r, q, at, last, xe, xo, vbuf, dbuf, zbuf, prod, du):  # pragma: no cover - compiled
    """du (n, F, C) += sum over signals lo <= s < hi of dP[e] (F, T) @ V[e]^T (T, C) (see the module
    docstring); ``at`` is A^T in the signals' dtype, ``prod`` (F, C) holds one product. With ``last``
    (a channels-last :func:`scratch`) V[e] is formed as (T, C), the product's right operand as it
    is stored."""
    tiles = dout.shape[3] // 2
    f, c = prod.shape
    for s in range(lo, hi):
        if last:
            _split_signal_last(x, s, pw, xe, xo)
            _input_transform_last(xe, xo, r, q, vbuf, tiles)
        else:
            _split_signal(x, s, pw, xe, xo)
            _input_transform(xe, xo, r, q, vbuf, tiles)
        _gradient_transform(dout[s], at, zbuf, dbuf)
        for e in range(du.shape[0]):
            if last:
                _add_product(_matrix(dbuf, e, f, tiles), _matrix(vbuf, e, tiles, c), prod, du[e])
            else:
                _add_product(_matrix(dbuf, e, f, tiles), _matrix(vbuf, e, c, tiles).T, prod, du[e])
