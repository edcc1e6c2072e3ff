"""Compiled twin of ``functional/conv.py``: the same convolution as tiled im2col + BLAS.

The reference builds the columns of the whole batch, ``cols (N, C*HH*WW, Ho*Wo)``, and computes
``out = w.reshape(F, -1) @ cols + b`` in one product; its backward keeps ``cols`` in the cache. Here:

* **Tiles.** The windows of a few images (or a few output rows of one image) are copied into a
  column tile ``cols (G, C*kh*kw + 1, L)`` small enough for the L2 cache (``TILE_BYTES``), and one
  batched product ``[W | b] @ cols`` (``wb``) writes the output tile straight into the
  (N, F, Ho*Wo) result: no transposes, no separate bias pass (the tile's last row is ones). Small
  products that stay in L2 run at 80-100 GFLOP/s where one huge im2col product streams from
  memory at ~30. The cache keeps the *input* only (not the 9x larger columns); backward rebuilds
  each tile, so memory stays below PyTorch's.
* **Contiguous column rows.** For stride-1 "same" convolutions (Wo = W) the pixels under one
  kernel offset for a band of output rows are one contiguous run of the input; a column row is one
  copy plus zeroing the wrapped-around edge pixels, and col2im one contiguous ``+=`` per kernel
  offset. Other convolutions gather row by row.
* **Threads.** The tiles are cut into parts at image boundaries; each thread multiplies its parts'
  tiles with a single-threaded BLAS (``threads.run_tiles``), and the weight gradient adds the
  parts' sums in a fixed order.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u8

from .._windows import window_grid
from . import CompiledCache
from .threads import run_tiles

TILE_BYTES = 1 << 20
"""Target size of one im2col column tile: about the per-core L2 cache. Measured on the CIFAR net
(training step, 1 thread): 128 KiB 361 ms, 384 KiB 333 ms, 1 MiB 313 ms, 4 MiB 341 ms; one product
over the whole batch's columns (the NumPy reference) 698 ms."""

_JIT = dict(cache=True, nogil=True)


# A column tile holds, for images n0 .. n0+G-1 and output rows i0 .. i1-1, one row per (c, a, b):
#     cols[g, (c*kh + a)*kw + b, (i - i0)*Wo + j] = x[n0 + g, c, i*sh + a - ph, j*sw + b - pw]
# (0 in the padding) and a last row of ones that carries the bias through the product.
# Indices in the inner loops are unsigned (u8): numba checks signed indices for negative
# wrap-around, which keeps LLVM from vectorising the copies (3-7x slower).
@njit(**_JIT)
def _im2col_same(x, n0, i0, i1, kh, kw, ph, pw, cols):  # pragma: no cover - compiled
    """The column tile of a stride-1 convolution whose output is as wide as its input (Wo = W).

    For offset (a, b) the pixels of output rows i0..i1-1 are then ONE contiguous run of x,
    x[n0 + g, c].flat[(i0 + a - ph)*W + b - pw : ... + (i1 - i0)*W] (clipped at the top and bottom
    rows, which are padding), except the first pw - b or last b - pw columns of every row, which
    wrapped around from the neighbouring row and are set to 0 (left / right padding).
    """
    G, R, L = cols.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    K = C * kh * kw
    rows = i1 - i0
    for g in range(G):
        cols[g, K, :] = 1
        for c in range(C):
            plane = x[n0 + g, c].reshape(-1)
            for a in range(kh):
                # output rows whose input row i + a - ph lies inside [0, H)
                lo = min(rows, max(0, ph - a - i0))
                hi = max(lo, min(rows, H + ph - a - i0))
                for b in range(kw):
                    dst = cols[g, (c * kh + a) * kw + b]
                    dst[: lo * W] = 0
                    dst[hi * W :] = 0
                    s0 = (i0 + lo + a - ph) * W + b - pw
                    skip = max(0, -s0)  # the first pixels may lie before the plane (left padding) ...
                    dst[lo * W : lo * W + skip] = 0
                    d0 = u8(lo * W + skip)
                    s0 += skip
                    n = min((hi - lo) * W - skip, H * W - s0)  # ... and the last ones past its end
                    for q in range(u8(max(n, 0))):
                        dst[d0 + q] = plane[u8(s0) + q]
                    for q in range(d0 + u8(max(n, 0)), u8(hi * W)):
                        dst[q] = 0
                    for i in range(lo, hi):
                        for j in range(0, pw - b):
                            dst[i * W + j] = 0
                        for j in range(W - (b - pw), W):
                            dst[i * W + j] = 0


@njit(**_JIT)
def _col2im_same(dcols, n0, i0, i1, kh, kw, ph, pw, dx):  # pragma: no cover - compiled
    """Adjoint of _im2col_same, accumulated into dx (zeroed by the caller):

    dx[n0 + g, c].flat[(i + a - ph)*W + j + b - pw] += dcols[g, (c*kh + a)*kw + b, (i - i0)*W + j]

    for pixels inside x. The wrapped-around entries of each dcols row (scratch) are zeroed first,
    so each (c, a, b) row is added with one contiguous run.
    """
    G = dcols.shape[0]
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    rows = i1 - i0
    for g in range(G):
        for c in range(C):
            plane = dx[n0 + g, c].reshape(-1)
            for a in range(kh):
                lo = min(rows, max(0, ph - a - i0))
                hi = max(lo, min(rows, H + ph - a - i0))
                for b in range(kw):
                    src = dcols[g, (c * kh + a) * kw + b]
                    for i in range(lo, hi):
                        for j in range(0, pw - b):
                            src[i * W + j] = 0
                        for j in range(W - (b - pw), W):
                            src[i * W + j] = 0
                    d0 = (i0 + lo + a - ph) * W + b - pw
                    skip = max(0, -d0)  # entries before / past the plane are padding (zeroed above)
                    s0 = u8(lo * W + skip)
                    d0 += skip
                    n = min((hi - lo) * W - skip, H * W - d0)
                    for q in range(u8(max(n, 0))):
                        plane[u8(d0) + q] += src[s0 + q]


@njit(**_JIT)
def _im2col(x, n0, i0, i1, kh, kw, sh, sw, ph, pw, wo, cols):  # pragma: no cover - compiled
    """The column tile of any convolution, gathered output row by output row (see the layout above)."""
    G, R, L = cols.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    K = C * kh * kw
    for g in range(G):
        cols[g, K, :] = 1
        for r in range(K):
            c, a, b = r // (kh * kw), (r // kw) % kh, r % kw
            src = x[n0 + g, c].reshape(-1)
            dst = cols[g, r]
            # output columns j whose input column j*sw + b - pw lies inside [0, W)
            jlo = min(wo, max(0, (pw - b + sw - 1) // sw))
            jhi = max(jlo, min(wo, (W - 1 + pw - b) // sw + 1))
            for i in range(i0, i1):
                h = i * sh + a - ph
                o = u8((i - i0) * wo)
                if h < 0 or h >= H:
                    for j in range(u8(wo)):
                        dst[o + j] = 0
                    continue
                s = u8(h * W + jlo * sw + b - pw)
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


@njit(**_JIT)
def _col2im(dcols, n0, i0, i1, kh, kw, sh, sw, ph, pw, wo, dx):  # pragma: no cover - compiled
    """The adjoint of _im2col, accumulated into dx (zeroed by the caller):
    dx[n0 + g, c, i*sh + a - ph, j*sw + b - pw] += dcols[g, (c*kh + a)*kw + b, (i - i0)*wo + j]."""
    G = dcols.shape[0]
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    for g in range(G):
        for c in range(C):
            dst = dx[n0 + g, c].reshape(-1)
            for a in range(kh):
                for b in range(kw):
                    src = dcols[g, (c * kh + a) * kw + b]
                    jlo = min(wo, max(0, (pw - b + sw - 1) // sw))
                    jhi = max(jlo, min(wo, (W - 1 + pw - b) // sw + 1))
                    for i in range(i0, i1):
                        h = i * sh + a - ph
                        if h < 0 or h >= H:
                            continue
                        o = u8((i - i0) * wo + jlo)
                        d = u8(h * W + jlo * sw + b - pw)
                        if sw == 1:
                            for j in range(u8(jhi - jlo)):
                                dst[d + j] += src[o + j]
                        else:
                            for j in range(u8(jhi - jlo)):
                                dst[d + j * u8(sw)] += src[o + j]


def _tiles(n, ho, row_bytes):
    """Tiles (n0, n1, i0, i1): images n0..n1-1 and output rows i0..i1-1 whose column tile takes about
    TILE_BYTES (``row_bytes`` per output row): several whole images, or bands of rows of one image."""
    if row_bytes * ho <= TILE_BYTES:
        g = max(1, TILE_BYTES // (row_bytes * ho))
        return [(n0, min(n, n0 + g), 0, ho) for n0 in range(0, n, g)]
    bands = -(-ho // max(1, TILE_BYTES // row_bytes))
    band = -(-ho // bands)  # equal bands (32 rows in 2 x 16, not 28 + 4)
    return [(i, i + 1, i0, min(ho, i0 + band)) for i in range(n) for i0 in range(0, ho, band)]


class _ConvPlan:
    """Shapes, tiles and scratch buffers of one convolution call."""

    def __init__(self, x_shape, w_shape, stride, pad, ho, wo, dtype):
        n, c, h, w = x_shape
        f, _, kh, kw = w_shape
        self.n, self.c, self.f, self.kh, self.kw, self.ho, self.wo = n, c, f, kh, kw, ho, wo
        (self.sh, self.sw), (self.ph, self.pw) = stride, pad
        self.k = c * kh * kw
        # contiguous runs need stride 1, an output as wide as the input and padding inside the kernel
        self.same = stride == (1, 1) and wo == w and self.ph < kh and self.pw < kw
        self.tiles = _tiles(n, ho, (self.k + 1) * wo * np.dtype(dtype).itemsize)
        self.dtype = dtype

    def scratch(self, backward=False):
        """Flat scratch arrays for the largest tile's columns (and their gradient)."""
        size = max((n1 - n0) * (self.k + 1) * (i1 - i0) * self.wo for n0, n1, i0, i1 in self.tiles)
        return [np.empty(size, self.dtype) for _ in range(2 if backward else 1)]

    def columns(self, x, buf, n0, n1, i0, i1):
        """The column tile (G, C*kh*kw + 1, rows*Wo) of a tile, in ``buf``."""
        cols = buf[: (n1 - n0) * (self.k + 1) * (i1 - i0) * self.wo].reshape(n1 - n0, self.k + 1, (i1 - i0) * self.wo)
        if self.same:
            _im2col_same(x, n0, i0, i1, self.kh, self.kw, self.ph, self.pw, cols)
        else:
            _im2col(x, n0, i0, i1, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw, self.wo, cols)
        return cols

    def col2im(self, dcols, n0, i0, i1, dx):
        if self.same:
            _col2im_same(dcols, n0, i0, i1, self.kh, self.kw, self.ph, self.pw, dx)
        else:
            _col2im(dcols, n0, i0, i1, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw, self.wo, dx)


def conv_forward(x, w, b, stride=1, pad=0):
    """out[n, f, i, j] = b[f] + sum_{c,a,b'} w[f, c, a, b'] * xpad[n, c, i*s + a, j*s + b'], by tiles.

    The reference's ``cols = im2col(x_pad)`` and ``out = w.reshape(F, -1) @ cols + b``, computed
    tile by tile: cols = im2col(tile) (padding written as zeros, no padded copy of x), and
    out[tile] = [W | b] @ cols, one batched BLAS product writing straight into the (N, F, Ho*Wo)
    output. ``b`` is an array (F,) or a scalar (0: no bias). Returns (out, CompiledCache); the
    cache holds x itself, not its columns.
    """
    x = np.ascontiguousarray(x)
    f, _, kh, kw = w.shape
    stride, pad, (ho, wo) = window_grid("conv_forward", x.shape[2], x.shape[3], kh, kw, stride, pad)
    plan = _ConvPlan(x.shape, w.shape, stride, pad, ho, wo, x.dtype)
    k = plan.k
    wb = np.empty((f, k + 1), dtype=x.dtype)  # [W | b]: the bias rides on the row of ones
    wb[:, :k] = w.reshape(f, k)
    wb[:, k] = b
    out = np.empty((plan.n, f, ho * wo), dtype=x.dtype)

    def work(parts):
        (buf,) = plan.scratch()
        for part in parts:
            for n0, n1, i0, i1 in part:
                cols = plan.columns(x, buf, n0, n1, i0, i1)
                np.matmul(wb, cols, out=out[n0:n1, :, i0 * wo : i1 * wo])
        return [None] * len(parts)

    run_tiles(plan.tiles, work)
    return out.reshape(plan.n, f, ho, wo), CompiledCache(("conv", x, wb, w.shape, plan))


def conv_backward(dout, cache, need_dx=True):
    """The reference's db, dw and dx (None if not ``need_dx``), tile by tile, rebuilding each column
    tile from the cached input:

    [dw | db].T += cols @ dout[tile].T   (the ones row of cols gives db = sum of dout)
    dcols = w.reshape(F, -1).T @ dout[tile];  dx += col2im(dcols)

    [dw | db] is summed per part of the tiles (``threads.tile_parts``), then over the parts in order.
    """
    _, x, wb, w_shape, plan = cache
    k, f, wo = plan.k, plan.f, plan.wo
    dout3 = np.ascontiguousarray(dout, dtype=x.dtype).reshape(plan.n, f, plan.ho * wo)
    w_t = np.ascontiguousarray(wb[:, :k].T)  # (C*kh*kw, F)
    dx = np.zeros_like(x) if need_dx else None

    def work(parts):
        buf, dbuf = plan.scratch(backward=True)
        sums = []
        for part in parts:
            dwb_t = np.zeros((k + 1, f), dtype=x.dtype)  # cols @ dout.T runs faster than dout @ cols.T
            for n0, n1, i0, i1 in part:
                cols = plan.columns(x, buf, n0, n1, i0, i1)
                d = dout3[n0:n1, :, i0 * wo : i1 * wo]
                dwb_g = np.matmul(cols, d.transpose(0, 2, 1))  # (G, K + 1, F): [dw | db].T per image
                dwb_t += dwb_g[0] if dwb_g.shape[0] == 1 else dwb_g.sum(axis=0)
                if not need_dx:
                    continue
                dcols = dbuf[: cols[:, :k].size].reshape(cols.shape[0], k, cols.shape[2])
                np.matmul(w_t, d, out=dcols)
                plan.col2im(dcols, n0, i0, i1, dx)
            sums.append(dwb_t)
        return sums

    dwb = sum(run_tiles(plan.tiles, work)).T
    return dx, dwb[:, :k].reshape(w_shape), dwb[:, k].copy()
