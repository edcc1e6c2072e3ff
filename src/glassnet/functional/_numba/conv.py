"""Compiled twin of ``functional/conv.py``: the same convolution as tiled im2col + BLAS.

The reference builds the columns of the whole batch, ``cols (N, C*HH*WW, Ho*Wo)``, and computes
``out = w.reshape(F, -1) @ cols + b`` in one product; its backward keeps ``cols`` in the cache. Here:

* **Tiles.** The windows of a few images (or a few output rows of one image) are copied into a
  column tile ``cols (G, C*kh*kw + 1, L)`` small enough for the L2 cache (``TILE_BYTES``), and one
  product ``[W | b] @ cols[g]`` (``wb``) per image writes the output straight into the
  (N, F, Ho*Wo) result: no transposes, no separate bias pass (the tile's last row is ones). Small
  products that stay in L2 run at 80-100 GFLOP/s where one huge im2col product streams from
  memory at ~30. The cache keeps the *input* only (not the 9x larger columns); backward rebuilds
  each tile, so memory stays below PyTorch's.
* **Contiguous column rows.** For stride-1 "same" convolutions (Wo = W) the pixels under one
  kernel offset for a band of output rows are one contiguous run of the input; a column row is one
  copy plus zeroing the wrapped-around edge pixels, and col2im one contiguous ``+=`` per kernel
  offset. Stride-1 convolutions without padding (LeNet-5's second layer) copy one run of Wo pixels
  per tap and output row, with no bounds to check; other convolutions gather row by row.
* **Threads.** The tiles are cut into parts at image boundaries; the threads claim parts one at a
  time and multiply their tiles with a single-threaded BLAS, each part's whole loop (gather, one
  product per image, col2im) one compiled call that holds no GIL (:func:`_forward_loop`,
  :func:`_backward_loop`; grouped convolutions loop in Python) (``threads.run_tiles``; ``work`` yields
  one result per part), and the weight gradient adds the parts' sums in a fixed order.
* **Winograd.** 3x3 stride-1 convolutions with an even output of at least ``winograd.MIN_PIXELS``
  and at least ``winograd.MIN_CHANNELS`` input channels (most of a VGG or ResNet) skip the columns:
  forward, dx and dw run by Winograd's F(2x2, 3x3) (``winograd.py``), 2.25x fewer multiplications. Measured
  (batch 128, one thread, forward + backward): 32 channels on 32x32 images 38 + 76 ms by columns,
  25 + 43 ms by Winograd; 16 channels 15 + 30 against 10 + 17. 1-D convolutions with 3, 5 or 7 taps
  (stride 1, at least ``winograd1d.MIN_CHANNELS`` channels in and out, an even output of at least
  ``winograd1d.MIN_OUTPUTS``) run by F(2, r) (``winograd1d.py``): 7 taps, 64 -> 128 channels on 256
  samples, 41 + 85 ms by columns, 31 + 68 ms by Winograd.
* **Kernel rows.** Stride-1 forwards of few channels (``kernel_rows.applies``: LeNet-5's second
  layer) put whole image rows in the product and apply the kernel's columns as shifts of its
  outputs (``kernel_rows.py``): kw times fewer, longer runs to gather; 0.77-0.82x the forward's time
  on LeNet-5's second layer. Their backward is the columns'.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit
from numba import uint64 as u8

from .._windows import pair, window_grid
from . import CompiledCache, kernel_rows, winograd, winograd1d
from .jit import kernel
from .threads import parallel, run_tiles

TILE_BYTES = 1 << 19
"""Target size of one im2col column tile: the backward holds a tile and its gradient, so both stay
in a 1-2 MiB L2 cache. Measured on the CIFAR net (AMD Zen 4, training step, 1 thread, when each tile
still cost a round of Python): 128 KiB 361 ms, 384 KiB 333 ms, 1 MiB 313 ms, 4 MiB 341 ms; one product
over the whole batch's columns (the NumPy reference) 698 ms. With each part's loop compiled
(:func:`_forward_loop`, :func:`_backward_loop`), on the Intel machine of BENCHMARKS.md (2 MiB L2),
forward + backward of eight convolutions (LeNet-5's at batch 64 and 256, the CIFAR net's first,
ResNet-20's stride-2 ones), 512 KiB against 1 MiB: one thread 2-13 % faster in all eight (LeNet-5's
first at batch 256 4.61 -> 4.02 ms), two threads 0-12 % faster in six, 1-3 % slower in two; whole
training steps within their noise."""


# A column tile holds, for images n0 .. n0+G-1 and output rows i0 .. i1-1, one row per (c, a, b):
#     cols[g, (c*kh + a)*kw + b, (i - i0)*Wo + j] = x[n0 + g, c, i*sh + a - ph, j*sw + b - pw]
# (0 in the padding) and a last row of ones that carries the bias through the product.
# Indices in the inner loops are unsigned (u8): numba checks signed indices for negative
# wrap-around, which keeps LLVM from vectorising the copies (3-7x slower).
# Every gather, and every col2im, takes the whole geometry (kh, kw, sh, sw, ph, pw, dh, dw, wo), so
# a plan picks one pair and calls it the same way; the special ones ignore what their case fixes
# (stride, dilation and Wo).
@njit(inline="always")
def _shifted_copy(plane, h, w, i0, rows, da, db, dst):  # pragma: no cover - compiled
    """dst[i*w + j] = plane[(i0 + i + da)*w + j + db] for 0 <= i < rows, 0 <= j < w, and 0 where that
    pixel lies outside the h x w plane: one tap of a gather whose output rows are as wide as the plane.

    The pixels of output rows whose input row is inside are ONE contiguous run of the plane (clipped
    at its start and end), except the first -db or last db columns of every row, which wrapped
    around from the neighbouring row and are set to 0."""
    lo = min(rows, max(0, -da - i0))  # output rows whose input row i0 + i + da lies inside [0, h)
    hi = max(lo, min(rows, h - da - i0))
    dst[: lo * w] = 0
    dst[hi * w :] = 0
    s0 = (i0 + lo + da) * w + db
    skip = max(0, -s0)  # the first pixels may lie before the plane (left padding) ...
    dst[lo * w : lo * w + skip] = 0
    d0 = u8(lo * w + skip)
    s0 += skip
    n = min((hi - lo) * w - skip, h * w - s0)  # ... and the last ones past its end
    for q in range(u8(max(n, 0))):
        dst[d0 + q] = plane[u8(s0) + q]
    for q in range(d0 + u8(max(n, 0)), u8(hi * w)):
        dst[q] = 0
    for i in range(lo, hi):
        for j in range(0, -db):
            dst[i * w + j] = 0
        for j in range(w - db, w):
            dst[i * w + j] = 0


@njit(inline="always")
def _shifted_add(src, h, w, i0, rows, da, db, plane):  # pragma: no cover - compiled
    """The adjoint of :func:`_shifted_copy`: plane[(i0 + i + da)*w + j + db] += src[i*w + j] for the
    pixels inside the plane. The wrapped-around entries of src (scratch) are zeroed first, so the
    row is added with one contiguous run."""
    lo = min(rows, max(0, -da - i0))
    hi = max(lo, min(rows, h - da - i0))
    for i in range(lo, hi):
        for j in range(0, -db):
            src[i * w + j] = 0
        for j in range(w - db, w):
            src[i * w + j] = 0
    d0 = (i0 + lo + da) * w + db
    skip = max(0, -d0)  # entries before / past the plane are padding (zeroed above)
    s0 = u8(lo * w + skip)
    d0 += skip
    n = min((hi - lo) * w - skip, h * w - d0)
    for q in range(u8(max(n, 0))):
        plane[u8(d0) + q] += src[s0 + q]


@kernel
def _im2col_same(x, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols):  # pragma: no cover - compiled
    """The column tile of a stride-1 convolution whose output is as wide as its input (Wo = W):
    for offset (a, b) the pixels of output rows i0..i1-1 are then one contiguous run of
    x[n0 + g, c] shifted by (a - ph, b - pw) (:func:`_shifted_copy`)."""
    G, R, L = cols.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    K = C * kh * kw
    for g in range(G):
        cols[g, K, :] = 1
        for c in range(C):
            plane = x[n0 + g, c].reshape(-1)
            for a in range(kh):
                for b in range(kw):
                    _shifted_copy(plane, H, W, i0, i1 - i0, a - ph, b - pw, cols[g, (c * kh + a) * kw + b])


@kernel
def _col2im_same(dcols, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, dx):  # pragma: no cover - compiled
    """Adjoint of _im2col_same, accumulated into dx (zeroed by the caller):

    dx[n0 + g, c].flat[(i + a - ph)*W + j + b - pw] += dcols[g, (c*kh + a)*kw + b, (i - i0)*W + j]

    for pixels inside x, each (c, a, b) row added with one contiguous run (:func:`_shifted_add`)."""
    G = dcols.shape[0]
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    for g in range(G):
        for c in range(C):
            plane = dx[n0 + g, c].reshape(-1)
            for b in range(kw):  # taps in the reference's (b, a) order, see _col2im_valid
                for a in range(kh):
                    _shifted_add(dcols[g, (c * kh + a) * kw + b], H, W, i0, i1 - i0, a - ph, b - pw, plane)


@njit(inline="always")
def _phase(d):  # pragma: no cover - compiled
    """(p, m) with d = 2*m + p, p in {0, 1}: offset d of a stride-2 tap reads phase p, shifted by m."""
    p = d % 2
    return p, (d - p) // 2


@kernel
def _im2col_phases(x, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols):  # pragma: no cover - compiled
    """The column tile of a stride-2 convolution (no dilation) of an even H x W input whose output is
    half as wide (Wo = W/2), through the four phases of each input plane:

    phases[2*p + q][u, v] = x[n0 + g, c, 2u + p, 2v + q]     (each H/2 x W/2)

    Tap (a, b) of output (i, j) reads x[.., 2i + a - ph, 2j + b - pw] = phases[2*p + q][i + m, j + k]
    with a - ph = 2m + p, b - pw = 2k + q: a stride-1 shift of one phase, whose output rows are as wide
    as the phase, so each tap is one contiguous run (:func:`_shifted_copy`) instead of a strided read
    per output row (the gather of ResNet-20's stride-2 3x3 convolutions, batch 128, one thread: 16
    channels on 32x32 2.11 -> 0.83 ms, 32 on 16x16 2.05 -> 0.71 ms)."""
    G, R, L = cols.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = H // 2, W // 2
    K = C * kh * kw
    phases = np.empty((4, hp * wp), x.dtype)
    for g in range(G):
        cols[g, K, :] = 1
        for c in range(C):
            plane = x[n0 + g, c]
            for u in range(hp):
                for v in range(u8(wp)):
                    o = u8(u * wp) + v
                    phases[0, o] = plane[2 * u, u8(2) * v]
                    phases[1, o] = plane[2 * u, u8(2) * v + u8(1)]
                    phases[2, o] = plane[2 * u + 1, u8(2) * v]
                    phases[3, o] = plane[2 * u + 1, u8(2) * v + u8(1)]
            for a in range(kh):
                p, m = _phase(a - ph)
                for b in range(kw):
                    q, k = _phase(b - pw)
                    _shifted_copy(phases[2 * p + q], hp, wp, i0, i1 - i0, m, k, cols[g, (c * kh + a) * kw + b])


@kernel
def _col2im_phases(dcols, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, dx):  # pragma: no cover - compiled
    """Adjoint of _im2col_phases, accumulated into dx (zeroed by the caller): each tap's row is added
    into its phase (:func:`_shifted_add`; taps in (b, a) order), then the four phases into dx (16
    channels on 32x32, batch 128: 1.65 -> 0.94 ms against _col2im; 32 on 16x16 1.10 either way)."""
    G = dcols.shape[0]
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    hp, wp = H // 2, W // 2
    phases = np.empty((4, hp * wp), dx.dtype)
    for g in range(G):
        for c in range(C):
            phases[:] = 0
            for b in range(kw):
                q, k = _phase(b - pw)
                for a in range(kh):
                    p, m = _phase(a - ph)
                    _shifted_add(dcols[g, (c * kh + a) * kw + b], hp, wp, i0, i1 - i0, m, k, phases[2 * p + q])
            plane = dx[n0 + g, c]
            for u in range(hp):
                for v in range(u8(wp)):
                    o = u8(u * wp) + v
                    plane[2 * u, u8(2) * v] += phases[0, o]
                    plane[2 * u, u8(2) * v + u8(1)] += phases[1, o]
                    plane[2 * u + 1, u8(2) * v] += phases[2, o]
                    plane[2 * u + 1, u8(2) * v + u8(1)] += phases[3, o]


@kernel
def _im2col_valid(x, n0, i0, i1, kh, kw, wo, cols):  # pragma: no cover - compiled
    """The column tile of a stride-1 convolution without padding or dilation (Wo = W - kw + 1):

    cols[g, (c*kh + a)*kw + b, (i - i0)*Wo + j] = x[n0 + g, c, i + a, j + b]

    Nothing lies in the padding, so each (tap, output row) is one plain copy of Wo pixels. The loops
    run over flat views, tap rows (c, a) outermost, then output rows i, then b: the input row i + a
    is read kw times in a row while it sits in L1 (LeNet-5's second convolution, 14x14 -> 10x10,
    batch 256: 2.1 -> 1.0 ms against the general gather below, which recomputes each tap's bounds)."""
    G, R, L = cols.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    K = C * kh * kw
    for g in range(G):
        cols[g, K, :] = 1
        dst, src = cols[g].reshape(-1), x[n0 + g].reshape(-1)
        for c in range(C):
            for a in range(kh):
                row0 = u8((c * kh + a) * kw * L)  # column row of tap (c, a, 0)
                for i in range(i0, i1):
                    s = u8((c * H + i + a) * W)
                    d = row0 + u8((i - i0) * wo)
                    for b in range(u8(kw)):
                        for j in range(u8(wo)):
                            dst[d + b * u8(L) + j] = src[s + b + j]


@kernel
def _col2im_valid(dcols, n0, i0, i1, kh, kw, wo, dx):  # pragma: no cover - compiled
    """Adjoint of _im2col_valid, accumulated into dx (zeroed by the caller):
    dx[n0 + g, c, i + a, j + b] += dcols[g, (c*kh + a)*kw + b, (i - i0)*Wo + j].

    The column offset b is the outer loop: the runs added one after the other then start at the same
    column of dx, so a load of dx meets the store just before it at the same address. With b inner
    (the order of _im2col_valid), each run overlapped the previous one by all but one pixel, and
    the processor cannot forward a store to a load that only partly overlaps it (LeNet-5's second
    convolution, 17 images: 9.4 -> 3.4 us per image). Each pixel of dx gets its taps in (b, a)
    order, as in _col2im, _col2im_same and the reference's col2im."""
    G, R, L = dcols.shape
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    for g in range(G):
        src, dst = dcols[g].reshape(-1), dx[n0 + g].reshape(-1)
        for c in range(C):
            for b in range(u8(kw)):
                for a in range(kh):
                    row0 = u8((c * kh + a) * kw) * u8(L) + b * u8(L)  # column row of tap (c, a, b)
                    for i in range(i0, i1):
                        d = u8((c * H + i + a) * W) + b
                        s = row0 + u8((i - i0) * wo)
                        for j in range(u8(wo)):
                            dst[d + j] += src[s + j]


@kernel
def _im2col(x, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols):  # pragma: no cover - compiled
    """The column tile of any convolution, gathered output row by output row (see the layout above;
    with dilation (dh, dw) the tap (a, b) reads x[..., i*sh + a*dh - ph, j*sw + b*dw - pw]).
    Stride 1 without padding or dilation goes to :func:`_im2col_valid`."""
    if sh == 1 and sw == 1 and ph == 0 and pw == 0 and dh == 1 and dw == 1:
        _im2col_valid(x, n0, i0, i1, kh, kw, wo, cols)
        return
    G, R, L = cols.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    K = C * kh * kw
    for g in range(G):
        cols[g, K, :] = 1
        for r in range(K):
            c, a, b = r // (kh * kw), (r // kw) % kh, r % kw
            src = x[n0 + g, c].reshape(-1)
            dst = cols[g, r]
            off = b * dw - pw
            # output columns j whose input column j*sw + off lies inside [0, W)
            jlo = min(wo, max(0, (-off + sw - 1) // sw))
            jhi = max(jlo, min(wo, (W - 1 - off) // sw + 1))
            for i in range(i0, i1):
                h = i * sh + a * dh - ph
                o = u8((i - i0) * wo)
                if h < 0 or h >= H:
                    for j in range(u8(wo)):
                        dst[o + j] = 0
                    continue
                s = u8(h * W + jlo * sw + off)
                for j in range(u8(jlo)):
                    dst[o + j] = 0
                if sw == 1:
                    for j in range(u8(jhi - jlo)):
                        dst[o + u8(jlo) + j] = src[s + j]
                else:
                    for j in range(u8(jhi - jlo)):
                        dst[o + u8(jlo) + j] = src[s + j * u8(sw)]
                for j in range(u8(jhi), u8(wo)):
                    dst[o + j] = 0


@kernel
def _col2im(dcols, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, dx):  # pragma: no cover - compiled
    """The adjoint of _im2col, accumulated into dx (zeroed by the caller):
    dx[n0 + g, c, i*sh + a*dh - ph, j*sw + b*dw - pw] += dcols[g, (c*kh + a)*kw + b, (i - i0)*wo + j]
    (stride 1 without padding or dilation by :func:`_col2im_valid`)."""
    if sh == 1 and sw == 1 and ph == 0 and pw == 0 and dh == 1 and dw == 1:
        _col2im_valid(dcols, n0, i0, i1, kh, kw, wo, dx)
        return
    G = dcols.shape[0]
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    for g in range(G):
        for c in range(C):
            dst = dx[n0 + g, c].reshape(-1)
            for b in range(kw):  # taps in the reference's (b, a) order, see _col2im_valid
                off = b * dw - pw
                jlo = min(wo, max(0, (-off + sw - 1) // sw))
                jhi = max(jlo, min(wo, (W - 1 - off) // sw + 1))
                for a in range(kh):
                    src = dcols[g, (c * kh + a) * kw + b]
                    for i in range(i0, i1):
                        h = i * sh + a * dh - ph
                        if h < 0 or h >= H:
                            continue
                        o = u8((i - i0) * wo + jlo)
                        d = u8(h * W + jlo * sw + off)
                        if sw == 1:
                            for j in range(u8(jhi - jlo)):
                                dst[d + j] += src[o + j]
                        else:
                            for j in range(u8(jhi - jlo)):
                                dst[d + j * u8(sw)] += src[o + j]


# Each part of a convolution's tiles runs as one compiled call (no GIL between its tiles: with the
# loop in Python, two threads took turns at it). The loops are written once, taking the gather and
# its adjoint as arguments, and compiled once per way of gathering (``_WAYS``), so a model compiles
# only the gathers it uses (numba compiles every function a kernel could call; a kernel taking a
# compiled function as a run-time argument would not be cached on disk).
@njit(inline="always")
def _tile_columns(gather, x, tiles, t, geometry, k1, buf):  # pragma: no cover - compiled
    """Tile t of ``tiles`` (rows (n0, n1, i0, i1)) and its column tile (G, k1, rows*Wo), gathered in ``buf``."""
    kh, kw, sh, sw, ph, pw, dh, dw, wo = geometry
    n0, n1, i0, i1 = tiles[t, 0], tiles[t, 1], tiles[t, 2], tiles[t, 3]
    cols = buf[: (n1 - n0) * k1 * (i1 - i0) * wo].reshape(n1 - n0, k1, (i1 - i0) * wo)
    gather(x, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols)
    return n0, n1, i0, i1, cols


@njit(inline="always")
def _forward_loop(gather, x, wb, tiles, t0, t1, geometry, buf, band, out):  # pragma: no cover - compiled
    """out[n, :, rows of the tile] = [W | b] @ cols[g] for the tiles t0 <= t < t1 of ``tiles`` (T, 4)
    (rows (n0, n1, i0, i1)), one product per image (groups = 1); ``gather`` builds each column tile
    in ``buf`` (:func:`_tile_columns`); ``band`` holds the output of one band of rows, copied to its strided place in out."""
    f, k1 = wb.shape
    wo = geometry[8]
    for t in range(t0, t1):
        n0, n1, i0, i1, cols = _tile_columns(gather, x, tiles, t, geometry, k1, buf)
        cells = cols.shape[2]
        for g in range(n1 - n0):
            if cells == out.shape[2]:
                np.dot(wb, cols[g], out[n0 + g])
            else:
                o = band[: f * cells].reshape(f, cells)
                np.dot(wb, cols[g], o)
                for r in range(f):  # element by element: numba's slice assignment costs seconds to compile
                    for q in range(cells):
                        out[n0 + g, r, i0 * wo + q] = o[r, q]


TRANSPOSED_MIN_K = 64
TRANSPOSED_MAX_F = 32
TRANSPOSED_MAX_BAND = 4096
"""When the weight gradient copies dout's rows transposed (:func:`dout_transposed`): at most
TRANSPOSED_MAX_F filters, at least TRANSPOSED_MIN_K column rows (C*kh*kw) and F*L at most
TRANSPOSED_MAX_BAND values (16 KiB of float32). OpenBLAS packs a transposed right-hand factor
slowly when it is narrow; the copy costs ~0.3 ns a value, which a product of many column rows
repays. Measured (backward of one convolution with dx, one thread, both ways alternating in one
process; time with the copy over time without): taken - LeNet-5's second layer (K 150, F 16, L 100)
0.88 at batch 64 and 0.93 at 256, F 12 / 24 / 32 on the same input 0.92 / 0.98 / 0.89, 3x3 stride 2
16 -> 16 on 32x32 (K 144, L 256) 0.90, 8 -> 16 0.96, 32 -> 16 on 16x16 0.96; left - 16 -> 32 stride
2 on 32x32 (F*L 8192) 1.03, 32 -> 64 on 16x16 (F 64) 1.03, 3 -> 32 on 32x32 (K 27, L 1024) 1.17, a
1-D 3 -> 32 with 7 taps on 1024 samples 1.37, LeNet-5's first layer (K 25, F 6, L 784) 1.25
(BENCHMARKS.md, seventeenth pass)."""


def dout_transposed(k, f, cells):
    """Whether the weight gradient's product per image, cols (K + 1, L) @ d.T with d = dout's rows
    (F, L), first copies d transposed (L, F) so that BLAS multiplies two row-major matrices
    (:func:`_backward_loop`), for ``k`` column rows, ``f`` filters and ``cells`` = L (see
    TRANSPOSED_MAX_BAND)."""
    return f <= TRANSPOSED_MAX_F and k >= TRANSPOSED_MIN_K and f * cells <= TRANSPOSED_MAX_BAND


@njit(inline="always")
def _transpose(d, d_t):  # pragma: no cover - compiled
    """d_t[q*F + r] = d[r, q] for d (F, L): dout's rows of one image, transposed."""
    f, cells = d.shape
    src = d.reshape(-1)
    for q in range(u8(cells)):
        for r in range(u8(f)):
            d_t[q * u8(f) + r] = src[r * u8(cells) + q]


@njit(inline="always")
def _backward_loop(gather, scatter, x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf, band, d_t, prod, acc, dx):  # pragma: no cover - compiled
    """For the tiles t0 <= t < t1 (groups = 1), image by image (d = dout3[n] over the tile's rows):

        acc += cols[g] @ d.T           ([dw | db].T (K + 1, F): the ones row of cols gives db)
        dcols[g] = w_t @ d             (K, L), then dx += col2im(dcols) per tile, if ``need_dx``

    ``prod`` (K + 1, F) is the scratch of one image's product, ``buf`` / ``dbuf`` hold a column tile
    and its gradient, ``band`` a copy of dout's rows for a band of rows (strided in dout3[n]), and
    ``d_t``, unless empty, d transposed (:func:`dout_transposed`)."""
    k1, f = prod.shape
    kh, kw, sh, sw, ph, pw, dh, dw, wo = geometry
    for t in range(t0, t1):
        n0, n1, i0, i1, cols = _tile_columns(gather, x, tiles, t, geometry, k1, buf)
        cells = cols.shape[2]
        dcols = dbuf[: (n1 - n0) * (k1 - 1) * cells].reshape(n1 - n0, k1 - 1, cells)
        for g in range(n1 - n0):
            if cells == dout3.shape[2]:
                d = dout3[n0 + g]
            else:
                d = band[: f * cells].reshape(f, cells)
                for r in range(f):
                    for q in range(cells):
                        d[r, q] = dout3[n0 + g, r, i0 * wo + q]
            if d_t.size:
                _transpose(d, d_t)
                np.dot(cols[g], d_t[: cells * f].reshape(cells, f), prod)
            else:
                np.dot(cols[g], d.T, prod)
            for r in range(k1):
                for q in range(f):
                    acc[r, q] += prod[r, q]
            if need_dx:
                np.dot(w_t, d, dcols[g])
        if need_dx:
            scatter(dcols, n0, i0, i1, kh, kw, sh, sw, ph, pw, dh, dw, wo, dx)


@kernel
def _forward_same(x, wb, tiles, t0, t1, geometry, buf, band, out):  # pragma: no cover - compiled
    _forward_loop(_im2col_same, x, wb, tiles, t0, t1, geometry, buf, band, out)


@kernel
def _forward_phases(x, wb, tiles, t0, t1, geometry, buf, band, out):  # pragma: no cover - compiled
    _forward_loop(_im2col_phases, x, wb, tiles, t0, t1, geometry, buf, band, out)


@kernel
def _forward_strided(x, wb, tiles, t0, t1, geometry, buf, band, out):  # pragma: no cover - compiled
    _forward_loop(_im2col, x, wb, tiles, t0, t1, geometry, buf, band, out)


@kernel
def _backward_same(x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf, band, d_t, prod, acc, dx):  # pragma: no cover
    _backward_loop(_im2col_same, _col2im_same, x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf, band,
                   d_t, prod, acc, dx)


@kernel
def _backward_phases(x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf, band, d_t, prod, acc, dx):  # pragma: no cover
    _backward_loop(_im2col_phases, _col2im_phases, x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf,
                   band, d_t, prod, acc, dx)


@kernel
def _backward_strided(x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf, band, d_t, prod, acc, dx):  # pragma: no cover
    _backward_loop(_im2col, _col2im, x, dout3, w_t, tiles, t0, t1, geometry, need_dx, buf, dbuf,
                   band, d_t, prod, acc, dx)


_WAYS = {"same": (_im2col_same, _col2im_same, _forward_same, _backward_same),
         "phases": (_im2col_phases, _col2im_phases, _forward_phases, _backward_phases),
         "strided": (_im2col, _col2im, _forward_strided, _backward_strided)}
"""The ways of gathering columns: (gather, its col2im, the compiled forward and backward loops over a
part's tiles)."""


@functools.lru_cache(maxsize=256)
def _tile_table(tiles):
    """The tiles as a read-only (T, 4) array for the compiled loops, and each tile's index in ``tiles``
    (a part is a run of consecutive tiles): remembered per tiling, as the tiles are."""
    rows = np.array(tiles, dtype=np.int64).reshape(-1, 4)
    rows.flags.writeable = False
    return rows, {tile: i for i, tile in enumerate(tiles)}


@functools.lru_cache(maxsize=256)
def _tiles(n, ho, row_bytes, tile_bytes):
    """Tiles (n0, n1, i0, i1): images n0..n1-1 and output rows i0..i1-1 whose column tile takes about
    ``tile_bytes`` (TILE_BYTES; ``row_bytes`` per output row): several whole images, or bands of rows
    of one image. Remembered per shape, as their parts are (``threads.tile_parts``)."""
    if row_bytes * ho <= tile_bytes:
        g = max(1, tile_bytes // (row_bytes * ho))
        return tuple((n0, min(n, n0 + g), 0, ho) for n0 in range(0, n, g))
    bands = -(-ho // max(1, tile_bytes // row_bytes))
    band = -(-ho // bands)  # equal bands (32 rows in 2 x 16, not 28 + 4)
    return tuple((i, i + 1, i0, min(ho, i0 + band)) for i in range(n) for i0 in range(0, ho, band))


@functools.lru_cache(maxsize=64)
def _image_tiles(n):
    """One tile (n, n + 1, 0, 1) per image, for the kernels that walk whole images (Winograd)."""
    return tuple((i, i + 1, 0, 1) for i in range(n))


class _ConvPlan:
    """Shapes, tiles and scratch buffers of one convolution call."""

    def __init__(self, x_shape, w_shape, stride, pad, dilation, groups, ho, wo, dtype):
        n, c, h, w = x_shape
        f, _, kh, kw = w_shape
        self.n, self.c, self.f, self.kh, self.kw, self.ho, self.wo = n, c, f, kh, kw, ho, wo
        (self.sh, self.sw), (self.ph, self.pw), (self.dh, self.dw) = stride, pad, dilation
        self.groups = groups
        self.k = c * kh * kw
        # contiguous runs need stride 1, no dilation, an output as wide as the input and padding inside the kernel
        self.same = stride == (1, 1) and dilation == (1, 1) and wo == w and self.ph < kh and self.pw < kw
        # ... or stride 2 over the four phases of an even input, with an output half as wide
        # (a 1x1 kernel reads one phase of four: its strided gather reads less)
        self.phases = (not self.same and stride == (2, 2) and dilation == (1, 1) and h % 2 == 0 and w % 2 == 0
                       and wo == w // 2 and 1 < kh and 1 < kw and self.ph < kh and self.pw < kw)
        self.gather, self.scatter, self.forward_tiles, self.backward_tiles = _WAYS[
            "same" if self.same else "phases" if self.phases else "strided"]
        self.geometry = (kh, kw, self.sh, self.sw, self.ph, self.pw, self.dh, self.dw, wo)
        self.tiles = _tiles(n, ho, (self.k + 1) * wo * np.dtype(dtype).itemsize, TILE_BYTES)
        self.tile_rows, self._tile_index = _tile_table(self.tiles)
        self.band_cells = max(i1 - i0 for *_, i0, i1 in self.tiles) * wo  # output pixels of an image's largest band
        self.dtype = dtype

    def scratch(self, backward=False):
        """Flat scratch arrays for the largest tile's columns (and their gradient)."""
        size = max((n1 - n0) * (self.k + 1) * (i1 - i0) * self.wo for n0, n1, i0, i1 in self.tiles)
        return [np.empty(size, self.dtype) for _ in range(2 if backward else 1)]

    def band(self):
        """Scratch for the F output rows of one band of a tile (empty when every tile is whole images)."""
        banded = any(i1 - i0 < self.ho for _, _, i0, i1 in self.tiles)
        return np.empty(self.f * self.band_cells if banded else 0, self.dtype)

    def transposed_band(self):
        """Scratch for one band of dout transposed, (L, F), when the weight gradient's products take
        it (:func:`dout_transposed`), else empty."""
        taken = dout_transposed(self.k, self.f, self.band_cells)
        return np.empty(self.f * self.band_cells if taken else 0, self.dtype)

    def span(self, part):
        """(t0, t1): the indices in ``tiles`` of a part's tiles (a part is a run of consecutive tiles)."""
        t0 = self._tile_index[part[0]]
        return t0, t0 + len(part)

    def columns(self, x, buf, n0, n1, i0, i1):
        """The column tile (G, C*kh*kw + 1, rows*Wo) of a tile, in ``buf``."""
        cols = buf[: (n1 - n0) * (self.k + 1) * (i1 - i0) * self.wo].reshape(n1 - n0, self.k + 1, (i1 - i0) * self.wo)
        self.gather(x, n0, i0, i1, *self.geometry, cols)
        return cols

    def by_group(self, a):
        """A tile's rows (Gi, C*kh*kw or F, L) seen as (Gi, groups, rows per group, L) (a view)."""
        return a.reshape(a.shape[0], self.groups, a.shape[1] // self.groups, a.shape[2])

    def col2im(self, dcols, n0, i0, i1, dx):
        self.scatter(dcols, n0, i0, i1, *self.geometry, dx)


def conv_forward(x, w, b, stride=1, pad=0, dilation=1, groups=1):
    """out[n, f, i, j] = b[f] + sum_{c,a,b'} w[f, c, a, b'] * xpad[n, g*C/G + c, i*s + a*d, j*s + b'*d], by tiles.

    The reference's ``cols = im2col(x_pad)`` and ``out[n, g] = w[g].reshape(F/G, -1) @ cols[n, g] + b``,
    computed tile by tile: cols = im2col(tile) (padding written as zeros, no padded copy of x), and
    out[tile] = [W | b] @ cols (groups = 1: the bias rides on the ones row), or one product batched
    over the groups plus the bias, writing straight into the (N, F, Ho*Wo) output. Depthwise
    convolutions (one input channel per filter) skip the columns: :func:`_depthwise` computes each
    output plane directly (a product per channel would be a 1 x kh*kw matrix: all overhead).
    3x3 stride-1 convolutions that ``winograd.applies`` to run by :func:`_winograd_forward` instead
    (their cache keeps a copy of the weights rather than [W | b]), stride-1 convolutions of few
    channels that ``kernel_rows.applies`` to by :func:`_kernel_rows_forward` (backward by the columns).
    ``b`` is an array (F,) or a scalar (0: no bias). Returns (out, CompiledCache); the cache holds x
    itself, not its columns.
    """
    x = np.ascontiguousarray(x)
    f, cg, kh, kw = w.shape
    stride, pad, (ho, wo) = window_grid("conv_forward", x.shape[2], x.shape[3], kh, kw, stride, pad, dilation)
    dilation = pair(dilation, "dilation")
    bias = np.empty(f, dtype=x.dtype)
    bias[...] = b
    if groups > 1 and cg == 1:
        return _depthwise_forward(x, np.ascontiguousarray(w, dtype=x.dtype), bias, stride, pad, dilation, ho, wo)
    plan = _ConvPlan(x.shape, w.shape, stride, pad, dilation, groups, ho, wo, x.dtype)
    if winograd.applies((kh, kw), stride, dilation, groups, (ho, wo), x.shape[1]):
        out = _winograd_forward(x, w, bias, pad, ho, wo)
        return out, CompiledCache(("conv", x, np.array(w, dtype=x.dtype), w.shape, plan))  # the weights as they were
    if winograd1d.applies((kh, kw), stride, dilation, groups, pad, (ho, wo), x.shape[1], f):
        out = _winograd1d_forward(x, w, bias, pad[1], wo)
        return out, CompiledCache(("conv", x, np.array(w, dtype=x.dtype), w.shape, plan))
    k = plan.k
    if groups == 1:
        wb = np.empty((f, k + 1), dtype=x.dtype)  # [W | b]: the bias rides on the row of ones
        wb[:, :k] = w.reshape(f, k)
        wb[:, k] = bias
    else:
        wb = np.ascontiguousarray(w, dtype=x.dtype).reshape(groups, f // groups, k // groups)
    if kernel_rows.applies(x.shape, w.shape, stride, pad, dilation, groups, x.itemsize):
        return _kernel_rows_forward(x, w, bias, pad, ho, wo), CompiledCache(("conv", x, wb, w.shape, plan))
    out = np.empty((plan.n, f, ho * wo), dtype=x.dtype)

    def work(parts):
        (buf,) = plan.scratch()
        band = plan.band()
        for part in parts:
            if groups == 1:  # the part's whole loop in one compiled call
                plan.forward_tiles(x, wb, plan.tile_rows, *plan.span(part), plan.geometry, buf, band, out)
            else:
                for n0, n1, i0, i1 in part:
                    cols = plan.columns(x, buf, n0, n1, i0, i1)
                    o = out[n0:n1, :, i0 * wo : i1 * wo]
                    np.matmul(wb, plan.by_group(cols[:, :k]), out=plan.by_group(o))
                    o += bias[:, None]
            yield None  # the output is written in place: no result per part

    run_tiles(plan.tiles, work)
    return out.reshape(plan.n, f, ho, wo), CompiledCache(("conv", x, wb, w.shape, plan))


def conv_backward(dout, cache, need_dx=True, need_db=True):
    """The reference's db (None if not ``need_db``), dw and dx (None if not ``need_dx``), tile by
    tile, rebuilding each column tile from the cached input:

    [dw | db].T += cols @ dout[tile].T   (groups = 1: the ones row of cols gives db = sum of dout)
    dw[g] += dout[tile, g] @ cols[g].T   (groups > 1, batched over the groups; db = sum of dout)
    dcols[g] = w[g].reshape(F/G, -1).T @ dout[tile, g];  dx += col2im(dcols)

    The weight gradient is summed per part of the tiles (``threads.tile_parts``), then over the parts in order.
    After a Winograd forward, dw comes from :func:`_winograd_filter_gradient` and dx from
    :func:`_winograd_dx` where that applies (else from the tiles); after a forward by the tiles, dx
    may still come from :func:`_winograd_dx` (fewer than ``winograd.MIN_CHANNELS`` inputs, more filters).
    """
    _, x, wb, w_shape, plan = cache
    if isinstance(plan, _DepthwisePlan):
        dx, dw, db = _depthwise_backward(dout, x, wb, plan, need_db)
        return (dx if need_dx else None), dw, db
    k, f, wo, groups = plan.k, plan.f, plan.wo, plan.groups
    dout3 = np.ascontiguousarray(dout, dtype=x.dtype).reshape(plan.n, f, plan.ho * wo)
    dout4 = dout3.reshape(plan.n, f, plan.ho, wo)
    by_winograd = wb.ndim == 4  # the forward ran by Winograd and kept the weights (F, C, kh, kw)
    dx = None
    if need_dx and _winograd_dx_applies(plan, x.shape):
        dx = _winograd_dx(dout4, wb if by_winograd else wb[:, :k].reshape(w_shape), x.shape, plan)
        need_dx = False
    if by_winograd and not need_dx:
        dw = _winograd_filter_gradient(x, dout4, plan)
        return dx, dw.astype(x.dtype), _bias_gradient(dout3, need_db)
    if by_winograd:  # dx by the column tiles below, which give dw and db as well
        wb = np.concatenate([wb.reshape(f, k), np.zeros((f, 1), x.dtype)], axis=1)
    if groups == 1:
        w_t = np.ascontiguousarray(wb[:, :k].T)  # (C*kh*kw, F)
    else:
        w_t = np.ascontiguousarray(wb.transpose(0, 2, 1))  # (G, C/G*kh*kw, F/G)
    if need_dx:
        dx = np.zeros_like(x)

    def work(parts):
        buf, dbuf = plan.scratch(backward=True)
        band, d_t, prod = plan.band(), plan.transposed_band(), np.empty((k + 1, f), dtype=x.dtype)
        into = dx if need_dx else np.empty((0, 0, 0, 0), x.dtype)  # the compiled loop takes an array either way
        for part in parts:
            # groups = 1: [dw | db].T (K + 1, F) (cols @ dout.T runs faster than dout @ cols.T); else dw (G, F/G, K/G)
            acc = np.zeros((k + 1, f) if groups == 1 else wb.shape, dtype=x.dtype)
            if groups == 1:  # the part's whole loop in one compiled call
                plan.backward_tiles(x, dout3, w_t, plan.tile_rows, *plan.span(part), plan.geometry, need_dx,
                                    buf, dbuf, band, d_t, prod, acc, into)
            else:
                for n0, n1, i0, i1 in part:
                    cols = plan.columns(x, buf, n0, n1, i0, i1)
                    d4 = plan.by_group(dout3[n0:n1, :, i0 * wo : i1 * wo])
                    part_sum = np.matmul(d4, plan.by_group(cols[:, :k]).transpose(0, 1, 3, 2))  # (Gi, G, F/G, K/G)
                    acc += part_sum[0] if part_sum.shape[0] == 1 else part_sum.sum(axis=0)
                    if need_dx:
                        dcols = dbuf[: cols[:, :k].size].reshape(cols.shape[0], k, cols.shape[2])
                        np.matmul(w_t, d4, out=plan.by_group(dcols))
                        plan.col2im(dcols, n0, i0, i1, dx)
            yield acc

    total = sum(run_tiles(plan.tiles, work))
    if groups == 1:
        dwb = total.T
        return dx, dwb[:, :k].reshape(w_shape), (dwb[:, k].copy() if need_db else None)
    return dx, total.reshape(w_shape), _bias_gradient(dout3, need_db)


def _bias_gradient(dout3, need_db):
    """db[f] = sum_{n,p} dout3[n, f, p] (the paths whose products do not give it), or None if not needed
    (a convolution without bias: at batch 128 this sum took ~0.3 ms per ResNet-20 layer)."""
    return dout3.sum(axis=(0, 2)) if need_db else None


# ----------------------------------------------------------------------- Winograd (3x3, stride 1)
# 3x3 stride-1 convolutions that ``winograd.applies`` to (an even output of at least MIN_PIXELS,
# at least MIN_CHANNELS inputs) run by Winograd F(2x2, 3x3) (``winograd.py``): the forward, the
# backward's dx, which is the same kind of convolution of dout, and the filter gradient.
def _run_images(n, scratch, run):
    """``run(lo, hi, buffers)`` for every part of the n images (the parts of ``run_tiles`` over one
    tile per image, as image ranges lo <= image < hi), each thread passing the buffers of its own
    ``scratch()``; returns run's results in part order."""
    def work(parts):
        buffers = scratch()
        for part in parts:
            yield run(part[0][0], part[-1][1], buffers)

    return run_tiles(_image_tiles(n), work)


def _winograd_forward(x, w, bias, pad, ho, wo):
    """out (N, F, Ho, Wo) = conv3x3(x, stride 1, pad) + bias with the filters w (F, C, 3, 3), a group
    of images per product (``winograd.conv_images``; filters and buffers in the layout
    ``winograd.channels_last`` gives); the images are cut into parts as for the column tiles
    (:func:`_run_images`)."""
    n, c = x.shape[:2]
    f = w.shape[0]
    group = winograd.group_size(ho, wo)
    last = winograd.channels_last(wo, c)
    u = winograd.transform_filters(w, x.dtype, last)
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    _run_images(n, lambda: winograd.scratch(c, f, ho, wo, group, x.dtype, last),
                lambda lo, hi, buffers: winograd.conv_images(x, lo, hi, group, u, bias, pad[0], pad[1], False,
                                                             *buffers, out[lo:hi]))
    return out


def _winograd_filter_gradient(x, dout, plan):
    """dw (F, C, 3, 3) in float64: dU summed per part of the images (parts as for the column tiles),
    the parts added in order, then transformed back (``winograd.filter_gradient``), the inputs in the
    layout ``winograd.filter_gradient_channels_last`` gives; a 1-D convolution's (F, C, 1, r) by
    :func:`_winograd1d_filter_gradient`."""
    if plan.kh == 1:
        return _winograd1d_filter_gradient(x, dout, plan)
    n, c = x.shape[:2]
    f, ho, wo = plan.f, plan.ho, plan.wo
    group = winograd.group_size(ho, wo)
    last = winograd.filter_gradient_channels_last(wo, c)

    def scratch():  # (last, xp, s, vbuf, dbuf): the forward's buffers but its output rows; prod (F, C)
        return (*winograd.scratch(c, f, ho, wo, group, x.dtype, last)[:5], np.empty((f, c), x.dtype))

    def part_sum(lo, hi, buffers):
        du = np.zeros((16, f, c), dtype=x.dtype)
        winograd.filter_grad_images(x, dout, lo, hi, group, plan.ph, plan.pw, *buffers, du)
        return du

    return winograd.filter_gradient(sum(_run_images(n, scratch, part_sum)))


def _dx_padding(plan):
    """The padding of the convolution that gives dx (:func:`_winograd_dx`): kernel size - 1 - padding."""
    return plan.kh - 1 - plan.ph, plan.kw - 1 - plan.pw


def _winograd_dx_applies(plan, x_shape):
    """dx of this convolution is a convolution Winograd computes (see :func:`_winograd_dx`: its
    padding must not be negative, and its output is the H x W input, from F channels; a 1 x r
    convolution of signals by ``winograd1d``)."""
    pad, kernel = _dx_padding(plan), (plan.kh, plan.kw)
    stride, dilation = (plan.sh, plan.sw), (plan.dh, plan.dw)
    if min(pad) < 0:
        return False
    if plan.kh == 1:
        return winograd1d.applies(kernel, stride, dilation, plan.groups, pad, x_shape[2:], plan.f, x_shape[1])
    return winograd.applies(kernel, stride, dilation, plan.groups, x_shape[2:], plan.f)


def _winograd_dx(dout, w, x_shape, plan):
    """dx[n, c, i, j] = sum_{f,a,b} dout[n, f, i + ph - a, j + pw - b] * w[f, c, a, b]

    which is the stride-1 correlation of dout, padded by (2 - ph, 2 - pw), with the filters flipped
    and transposed, w'[c, f, a', b'] = w[f, c, 2 - a', 2 - b'] (a' = 2 - a): an H x W output."""
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    no_bias = np.zeros(x_shape[1], dtype=dout.dtype)
    pad = _dx_padding(plan)
    if plan.kh == 1:  # a 1 x r convolution of signals: the same, with padding r - 1 - pw
        return _winograd1d_forward(dout, flipped, no_bias, pad[1], x_shape[3])
    return _winograd_forward(dout, flipped, no_bias, pad, x_shape[2], x_shape[3])


def _winograd1d_forward(x, w, bias, pw, wo):
    """out (N, F, 1, Wo) = the 1 x r stride-1 convolution of the signals x (N, C, 1, L), padding pw,
    plus bias, by Winograd's F(2, r) (``winograd1d.conv_signals``); parts as for 2-D Winograd."""
    n, c = x.shape[:2]
    f, r = w.shape[0], w.shape[3]
    u = winograd1d.transform_filters(w, x.dtype)
    q = winograd1d.constants(x.dtype)
    out = np.empty((n, f, 1, wo), dtype=x.dtype)
    _run_images(n, lambda: winograd1d.scratch(c, f, wo, r, x.dtype),
                lambda lo, hi, buffers: winograd1d.conv_signals(x, lo, hi, u, bias, pw, r, q, *buffers, out[lo:hi]))
    return out


def _winograd1d_filter_gradient(x, dout, plan):
    """dw (F, C, 1, r) in float64 of a 1-D convolution: dU summed per part of the signals, the parts
    added in order, then transformed back (``winograd1d.filter_gradient``)."""
    n, c = x.shape[:2]
    f, r, wo = plan.f, plan.kw, plan.wo
    q = winograd1d.constants(x.dtype)
    at = winograd1d.MATRICES[r][2].astype(x.dtype)

    last = winograd1d.filter_gradient_channels_last(wo, c)

    def scratch():  # (xe, xo, vbuf, dbuf, zbuf) and prod (F, C)
        return (*winograd1d.scratch(c, f, wo, r, x.dtype, last), np.empty((f, c), x.dtype))

    def part_sum(lo, hi, buffers):
        du = np.zeros((r + 1, f, c), dtype=x.dtype)
        winograd1d.filter_grad_signals(x, dout, lo, hi, plan.pw, r, q, at, last, *buffers, du)
        return du

    return winograd1d.filter_gradient(sum(_run_images(n, scratch, part_sum)))


# ------------------------------------------------------------------------ kernel rows (stride 1)
def _kernel_rows_forward(x, w, bias, pad, ho, wo):
    """out (N, F, Ho, Wo) = conv(x, stride 1, pad) + bias by kernel rows (``kernel_rows.conv_images``:
    whole image rows in each product, the kernel's columns as shifts of its outputs); the images
    are cut into parts as for the column tiles (:func:`_run_images`). Its backward is the columns'."""
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    wr = kernel_rows.rows_weight(w, x.dtype)
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    _run_images(n, lambda: kernel_rows.scratch(c, f, kh, kw, ho, x.shape[3] + 2 * pad[1], x.dtype),
                lambda lo, hi, buffers: kernel_rows.conv_images(x, wr, bias, kh, kw, pad[0], pad[1], *buffers,
                                                                out[lo:hi], lo, hi))
    return out


# ---------------------------------------------------------------------------------------- depthwise
# groups = C and one input channel per filter: filter f (of F = C*m) reads channel f // m only. The
# reference's batched product would multiply (1 x kh*kw) rows by columns, N*C times; these kernels
# instead walk each output plane, one kernel tap at a time, over contiguous rows (stride 1).
@njit(inline="always")
def _tap_columns(kw, sw, pw, dw, wo, W):  # pragma: no cover - compiled
    """Per kernel column b': the input offset off = b'*dw - pw and the output columns jlo <= j < jhi
    whose input column j*sw + off lies inside [0, W) (the others read padding)."""
    offs, jlo, jhi = np.empty(kw, np.int64), np.empty(kw, np.int64), np.empty(kw, np.int64)
    for bb in range(kw):
        offs[bb] = bb * dw - pw
        jlo[bb] = min(wo, max(0, (-offs[bb] + sw - 1) // sw))
        jhi[bb] = max(jlo[bb], min(wo, (W - 1 - offs[bb]) // sw + 1))
    return offs, jlo, jhi


@kernel
def _depthwise(x, w, b, sh, sw, ph, pw, dh, dw, out, lo, hi):  # pragma: no cover - compiled
    """out[n, f, i, j] = b[f] + sum_{a,b'} w[f, 0, a, b'] * x[n, f // m, i*sh + a*dh - ph, j*sw + b'*dw - pw]
    for the output planes t = n*F + f in lo <= t < hi (taps in the padding add nothing): each output
    row gets w[f, 0, a, b'] times a (strided) run of an input row, tap by tap, on flat planes."""
    F, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    H, W = x.shape[2], x.shape[3]
    m = F // x.shape[1]
    kh, kw = w.shape[2], w.shape[3]
    offs, jlo, jhi = _tap_columns(kw, sw, pw, dw, wo, W)
    for t in range(lo, hi):
        n, f = t // F, t % F
        src, dst = x[n, f // m].reshape(-1), out[n, f].reshape(-1)
        for q in range(u8(ho * wo)):
            dst[q] = b[f]
        for a in range(kh):
            for i in range(ho):
                h = i * sh + a * dh - ph
                if h < 0 or h >= H:
                    continue
                for bb in range(kw):
                    wv = w[f, 0, a, bb]
                    s, o, count = u8(h * W + jlo[bb] * sw + offs[bb]), u8(i * wo + jlo[bb]), u8(jhi[bb] - jlo[bb])
                    if sw == 1:
                        for q in range(count):
                            dst[o + q] += wv * src[s + q]
                    else:
                        for q in range(count):
                            dst[o + q] += wv * src[s + q * u8(sw)]


@kernel
def _depthwise_grads(x, w, dout, sh, sw, ph, pw, dh, dw, dx, dw_parts, lo, hi):  # pragma: no cover - compiled
    """For the input planes t = n*C + c in lo <= t < hi, with the filters f of channel c (c*m <= f < (c+1)*m):

    dx[n, c, i*sh + a*dh - ph, j*sw + b'*dw - pw] += w[f, 0, a, b'] * dout[n, f, i, j]   (written here whole)
    dw_parts[n, f, a, b'] = sum_{i,j} dout[n, f, i, j] * x[n, c, i*sh + a*dh - ph, j*sw + b'*dw - pw]

    (float64 sums); the caller adds dw_parts over n, in order, whatever the threads.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    F, ho, wo = dout.shape[1], dout.shape[2], dout.shape[3]
    m = F // C
    kh, kw = w.shape[2], w.shape[3]
    offs, jlos, jhis = _tap_columns(kw, sw, pw, dw, wo, W)
    for t in range(lo, hi):
        n, c = t // C, t % C
        src, gx = x[n, c], dx[n, c]
        gx[:, :] = 0
        for f in range(c * m, (c + 1) * m):
            g = dout[n, f]
            for a in range(kh):
                for bb in range(kw):
                    wv = w[f, 0, a, bb]
                    jlo, jhi = jlos[bb], jhis[bb]
                    s, o = u8(jlo * sw + offs[bb]), u8(jlo)
                    acc = 0.0
                    for i in range(ho):
                        h = i * sh + a * dh - ph
                        if h < 0 or h >= H:
                            continue
                        grow, xrow, drow = g[i], src[h], gx[h]
                        for q in range(u8(jhi - jlo)):
                            v = grow[o + q]
                            drow[s + q * u8(sw)] += wv * v
                            acc += v * xrow[s + q * u8(sw)]
                    dw_parts[n, f, a, bb] = acc


class _DepthwisePlan(tuple):
    """(sh, sw, ph, pw, dh, dw) of a depthwise convolution, in its cache where _ConvPlan would be."""

    __slots__ = ()


def _depthwise_forward(x, w, bias, stride, pad, dilation, ho, wo):
    """The depthwise case of :func:`conv_forward`: output planes split between the threads."""
    n, f = x.shape[0], w.shape[0]
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    args = _DepthwisePlan((*stride, *pad, *dilation))
    parallel(n * f, lambda lo, hi: _depthwise(x, w, bias, *args, out, lo, hi), out.size * w.shape[2] * w.shape[3])
    return out, CompiledCache(("conv", x, w, w.shape, args))


def _depthwise_backward(dout, x, w, args, need_db=True):
    """dx, dw, db of a depthwise convolution: input planes split between the threads (each writes its
    own dx plane and its filters' per-image weight sums); dw adds those over the images in order."""
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    n, c = x.shape[0], x.shape[1]
    dx = np.empty_like(x)
    dw_parts = np.empty((n, *w.shape[:1], *w.shape[2:]), dtype=np.float64)
    parallel(n * c, lambda lo, hi: _depthwise_grads(x, w, dout, *args, dx, dw_parts, lo, hi), dout.size * w.shape[2] * w.shape[3])
    dw = dw_parts.sum(axis=0).astype(x.dtype).reshape(w.shape)
    return dx, dw, _bias_gradient(dout.reshape(n, dout.shape[1], -1), need_db)
