"""Compiled CPU kernels (numba): the same formulas as the NumPy reference kernels, faster.

Used automatically for NumPy float32/float64 arrays when numba is installed (see ``_dispatch``;
``GLASSNET_KERNELS=numpy`` turns them off). Each public function here mirrors the reference kernel
of the same name and returns the same values; caches are :class:`CompiledCache` tuples, which the
reference backward functions hand back to this module.

What makes them fast (measured in BENCHMARKS.md):

* **Convolution as tiled im2col + BLAS.** The windows of a few images (or a few output rows of one
  image) are copied into a column tile ``cols (G, C*kh*kw + 1, L)`` small enough for the L2 cache
  (``TILE_BYTES``), and one batched product ``[W | b] @ cols`` writes the output tile straight
  into the (N, F, Ho*Wo) result: no transposes, no separate bias pass (the tile's last row is ones).
  Small products that stay in L2 run at 80-100 GFLOP/s where one huge im2col product streams from
  memory at ~30. The cache keeps the *input* only (not the 9x larger columns); backward rebuilds
  each tile, so memory stays below PyTorch's.
* **Contiguous column rows.** For stride-1 "same" convolutions (Wo = W) the pixels under one kernel
  offset for a band of output rows are one contiguous run of the input; a column row is one copy
  plus zeroing the wrapped-around edge pixels, and col2im one contiguous ``+=`` per kernel offset.
  Other convolutions gather row by row.
* **Element-wise work in one pass** (ReLU, max pooling, batch norm) reading and writing each
  array once, with float64 accumulators for the batch-norm sums (8 independent lanes so the
  compiler can vectorise them without reassociating anything: no fastmath).
* **Threads**: every kernel is serial and releases the GIL; work is split between glassnet's own
  pool of threads (``_dispatch.set_num_threads``), one hand-off per layer.

All kernels are compiled with ``cache=True`` (on-disk cache next to this file) and ``nogil=True``.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit
from numba import uint64 as u8

from . import _dispatch
from ._dispatch import CompiledCache

TILE_BYTES = 1 << 20
"""Target size of one im2col column tile: about the per-core L2 cache. Measured on the CIFAR net
(training step, 1 thread): 128 KiB 361 ms, 384 KiB 333 ms, 1 MiB 313 ms, 4 MiB 341 ms; one product
over the whole batch's columns (the NumPy reference) 698 ms."""

PARALLEL_MIN = 1 << 16
"""Element-wise kernels on fewer elements than this run in the calling thread (a hand-off costs more)."""

_JIT = dict(cache=True, nogil=True)


# ============================================================================ threads
# The kernels below are serial and release the GIL (nogil); work is split between glassnet's own
# pool of threads (_dispatch.get_num_threads() of them, the calling thread included). numba's
# OpenMP layer is not used: its spinning workers fought BLAS's for the cores (an MLP step at 2
# threads: 40 ms, against 7 ms), and one pool that sleeps when idle is easier to reason about.
_pool = {"executor": None, "size": 0, "blas": None}
_pool_lock = threading.Lock()


def threads():
    return _dispatch.get_num_threads()


def _executor(workers):
    """The pool, grown to at least ``workers`` threads (a smaller old pool is left to idle)."""
    with _pool_lock:
        if _pool["size"] < workers:
            _pool["executor"] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glassnet")
            _pool["size"] = workers
        return _pool["executor"]


def _parallel(n, fn, size=None):
    """[fn(lo, hi) for the shares of range(n)], the first share in this thread, the others in the pool.

    One share per thread (at most n); a problem of fewer than PARALLEL_MIN elements (``size``) is
    one share. Returns the results in order.
    """
    workers = min(threads(), n)
    if workers <= 1 or (size is not None and size < PARALLEL_MIN):
        return [fn(0, n)]
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    futures = [_executor(workers - 1).submit(fn, int(lo), int(hi)) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    first = fn(0, int(bounds[1]))
    return [first] + [f.result() for f in futures]


def _blas_one_thread():
    """A context in which NumPy's BLAS runs single-threaded (threadpoolctl), or None without threadpoolctl."""
    if _pool["blas"] is None:
        try:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - optional

            _pool["blas"] = ThreadpoolController()
        except ImportError:
            _pool["blas"] = False
    ctl = _pool["blas"]
    return ctl.limit(limits=1, user_api="blas") if ctl else None


def _run_tiles(tiles, work):
    """work(list of tiles) -> result over all tiles; returns the list of results (one per share).

    With one thread this is a single call. With T threads the tiles are split into T contiguous
    shares, and BLAS runs single-threaded meanwhile: each thread multiplies its own tiles, so a
    layer costs one hand-off instead of one parallel region per tile.
    """
    starts = [t for t in range(len(tiles)) if t == 0 or tiles[t][0] != tiles[t - 1][0]]
    if threads() <= 1 or len(starts) < 2:
        return [work(tiles)]
    single_blas = _blas_one_thread()
    if single_blas is None:  # without threadpoolctl: one thread of tiles, BLAS threads as they are
        return [work(tiles)]
    # shares end at image boundaries: the row bands of one image accumulate into the same rows of
    # dx (their halos overlap), so they must stay in one thread
    starts.append(len(tiles))
    with single_blas:
        return _parallel(len(starts) - 1, lambda lo, hi: work(tiles[starts[lo] : starts[hi]]))


# ============================================================================ convolution
# A column tile holds, for images n0 .. n0+G-1 and output rows i0 .. i1-1, one row per (c, a, b):
#     cols[g, (c*kh + a)*kw + b, (i - i0)*Wo + j] = x[n0 + g, c, i*sh + a - ph, j*sw + b - pw]
# (0 in the padding) and a last row of ones that carries the bias through the product.
# Indices in the inner loops are unsigned (u8): numba checks signed indices for negative
# wrap-around, which keeps LLVM from vectorising the copies (3-7x slower).
@njit(**_JIT)
def _same_columns(x, n0, i0, i1, kh, kw, ph, pw, cols):  # pragma: no cover - compiled
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
def _same_col2im(dcols, n0, i0, i1, kh, kw, ph, pw, dx):  # pragma: no cover - compiled
    """Adjoint of _same_columns, accumulated into dx (zeroed by the caller):

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
            _same_columns(x, n0, i0, i1, self.kh, self.kw, self.ph, self.pw, cols)
        else:
            _im2col(x, n0, i0, i1, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw, self.wo, cols)
        return cols

    def col2im(self, dcols, n0, i0, i1, dx):
        if self.same:
            _same_col2im(dcols, n0, i0, i1, self.kh, self.kw, self.ph, self.pw, dx)
        else:
            _col2im(dcols, n0, i0, i1, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw, self.wo, dx)


def conv_forward(x, w, b, stride, pad, ho, wo):
    """out[n, f, i, j] = b[f] + sum_{c,a,b'} w[f, c, a, b'] * xpad[n, c, i*s + a, j*s + b'], by tiles:

    for each tile, cols = im2col(tile) and out[tile] = [W | b] @ cols, one batched BLAS product
    writing straight into the (N, F, Ho*Wo) output. ``b`` is an array (F,) or a scalar (0: no bias).
    Returns (out, CompiledCache); the cache holds x itself, not its columns.
    """
    x = np.ascontiguousarray(x)
    plan = _ConvPlan(x.shape, w.shape, stride, pad, ho, wo, x.dtype)
    k, f = plan.k, plan.f
    wb = np.empty((f, k + 1), dtype=x.dtype)  # [W | b]: the bias rides on the row of ones
    wb[:, :k] = w.reshape(f, k)
    wb[:, k] = b
    out = np.empty((plan.n, f, ho * wo), dtype=x.dtype)

    def work(tiles):
        (buf,) = plan.scratch()
        for n0, n1, i0, i1 in tiles:
            cols = plan.columns(x, buf, n0, n1, i0, i1)
            np.matmul(wb, cols, out=out[n0:n1, :, i0 * wo : i1 * wo])

    _run_tiles(plan.tiles, work)
    return out.reshape(plan.n, f, ho, wo), CompiledCache(("conv", x, wb, w.shape, plan))


def conv_backward(dout, cache):
    """dx, dw, db tile by tile, rebuilding each column tile from the cached input:

    [dW | db].T += cols @ dout[tile].T   (the ones row of cols gives db = sum of dout)
    dx += col2im(W.T @ dout[tile])
    """
    _, x, wb, w_shape, plan = cache
    k, f, wo = plan.k, plan.f, plan.wo
    dout = np.ascontiguousarray(dout, dtype=x.dtype).reshape(plan.n, f, plan.ho * wo)
    wt = np.ascontiguousarray(wb[:, :k].T)  # (C*kh*kw, F)
    dx = np.zeros_like(x)

    def work(tiles):
        buf, dbuf = plan.scratch(backward=True)
        dwb_t = np.zeros((k + 1, f), dtype=x.dtype)  # cols @ dout.T runs faster than dout @ cols.T
        for n0, n1, i0, i1 in tiles:
            cols = plan.columns(x, buf, n0, n1, i0, i1)
            d = dout[n0:n1, :, i0 * wo : i1 * wo]
            part = np.matmul(cols, d.transpose(0, 2, 1))  # (G, K + 1, F): [dW | db].T per image
            dwb_t += part[0] if part.shape[0] == 1 else part.sum(axis=0)
            dcols = dbuf[: cols[:, :k].size].reshape(cols.shape[0], k, cols.shape[2])
            np.matmul(wt, d, out=dcols)
            plan.col2im(dcols, n0, i0, i1, dx)
        return dwb_t

    dwb = sum(_run_tiles(plan.tiles, work)).T
    return dx, dwb[:, :k].reshape(w_shape), dwb[:, k].copy()


# ============================================================================ ReLU
@njit(**_JIT)
def _relu(x, out, lo, hi):  # pragma: no cover - compiled
    """out[i] = max(x[i], 0) for lo <= i < hi over flat arrays (a NaN stays NaN, as in torch.relu)."""
    for i in range(u8(lo), u8(hi)):
        v = x[i]
        out[i] = v if (v > 0) | (v != v) else 0


@njit(**_JIT)
def _relu_backward(dout, out, dx, lo, hi):  # pragma: no cover - compiled
    """dx[i] = dout[i] where out[i] > 0 (the input was positive), else 0."""
    for i in range(u8(lo), u8(hi)):
        dx[i] = dout[i] if out[i] > 0 else 0


def relu_forward(x):
    out = np.empty(x.shape, dtype=x.dtype)
    xf, of = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    _parallel(xf.size, lambda lo, hi: _relu(xf, of, lo, hi), xf.size)
    return out, out


def relu_backward(dout, out):
    dx = np.empty(out.shape, dtype=out.dtype)
    df, of, xf = np.ascontiguousarray(dout, dtype=out.dtype).reshape(-1), np.ascontiguousarray(out).reshape(-1), dx.reshape(-1)
    _parallel(of.size, lambda lo, hi: _relu_backward(df, of, xf, lo, hi), of.size)
    return dx


# ============================================================================ max pooling
# Like the reference kernel, the forward keeps only the maxima and the backward finds each
# window's first maximum again from (x, out): in a network both arrays are cached by the
# neighbouring layers anyway, and the max-only forward is 6-8x faster than one that also records
# an argmax. Comparisons are branch-free (``|``, ``&``, ``~`` on booleans) so LLVM vectorises them.
@njit(inline="always")
def _nanmax(a, b):  # pragma: no cover - compiled
    """max(a, b), NaN if either is NaN (np.maximum's rule)."""
    return a if (a >= b) | (a != a) else b


@njit(inline="always")
def _is_max(v, m):  # pragma: no cover - compiled
    """v is the window maximum m (a NaN maximum is matched by any NaN)."""
    return (v == m) | (v != v)


@njit(**_JIT)
def _max_pool(x, kh, kw, sh, sw, out, lo, hi):  # pragma: no cover - compiled
    """out[p, i, j] = max_{a,b} x[p, i*sh + a, j*sw + b] for the (N*C, H, W) planes lo <= p < hi.

    2x2 windows at stride 2: first the element-wise max of the two input rows (contiguous), then of
    neighbouring pairs. Other windows: the maximum over the kh*kw offset views, one output row at a time.
    """
    W = x.shape[2]
    ho, wo = out.shape[1], out.shape[2]
    pair = np.empty(2 * wo, dtype=x.dtype)
    for p in range(lo, hi):
        xf, of = x[p].reshape(-1), out[p].reshape(-1)
        for i in range(ho):
            o = u8(i * wo)
            if kh == 2 and kw == 2 and sh == 2 and sw == 2:
                h0 = u8(2 * i * W)
                for q in range(u8(2 * wo)):
                    pair[q] = _nanmax(xf[h0 + q], xf[h0 + u8(W) + q])
                for j in range(u8(wo)):
                    of[o + j] = _nanmax(pair[2 * j], pair[2 * j + u8(1)])
                continue
            s0 = u8(i * sh * W)
            for j in range(u8(wo)):
                of[o + j] = xf[s0 + j * u8(sw)]
            for k in range(1, kh * kw):
                s = u8((i * sh + k // kw) * W + k % kw)
                for j in range(u8(wo)):
                    of[o + j] = _nanmax(of[o + j], xf[s + j * u8(sw)])


@njit(**_JIT)
def _max_pool_backward(x, out, dout, kh, kw, sh, sw, dx, lo, hi):  # pragma: no cover - compiled
    """dx[p, i*sh + a, j*sw + b] (+)= dout[p, i, j] at the first (row-major) offset (a, b) of each
    window where x equals the window's maximum out[p, i, j]; planes lo <= p < hi.

    When the windows tile the input (stride == size) every pixel of dx is written once, zeros
    included, so dx needs no initialisation; otherwise it is zeroed here and overlapping windows
    accumulate.
    """
    H, W = dx.shape[1], dx.shape[2]
    ho, wo = out.shape[1], out.shape[2]
    tiled = kh == sh and kw == sw
    for p in range(lo, hi):
        xf, of, df, gf = x[p].reshape(-1), out[p].reshape(-1), dout[p].reshape(-1), dx[p].reshape(-1)
        if not tiled:
            gf[:] = 0
        for i in range(ho):
            o = u8(i * wo)
            if tiled and kh == 2 and kw == 2:
                h0 = u8(2 * i * W)
                h1 = h0 + u8(W)
                for j in range(u8(wo)):
                    m, d = of[o + j], df[o + j]
                    e0 = _is_max(xf[h0 + 2 * j], m)
                    e1 = _is_max(xf[h0 + 2 * j + u8(1)], m) & ~e0
                    e2 = _is_max(xf[h1 + 2 * j], m) & ~(e0 | e1)
                    e3 = ~(e0 | e1 | e2)
                    gf[h0 + 2 * j] = d if e0 else 0
                    gf[h0 + 2 * j + u8(1)] = d if e1 else 0
                    gf[h1 + 2 * j] = d if e2 else 0
                    gf[h1 + 2 * j + u8(1)] = d if e3 else 0
            else:
                for j in range(wo):
                    m, d = of[o + j], df[o + j]
                    found = False
                    for k in range(kh * kw):
                        q = (i * sh + k // kw) * W + j * sw + k % kw
                        first = (not found) and _is_max(xf[q], m)
                        found = found or first
                        if tiled:
                            gf[q] = d if first else 0
                        elif first:
                            gf[q] += d
            if tiled:  # columns right of the last window
                for a in range(kh):
                    gf[(i * sh + a) * W + wo * sw : (i * sh + a + 1) * W] = 0
        if tiled:  # rows below the last window
            gf[ho * sh * W :] = 0


def max_pool_forward(x, kh, kw, sh, sw, ho, wo):
    n, c, h, w = x.shape
    x3 = np.ascontiguousarray(x).reshape(n * c, h, w)
    out = np.empty((n * c, ho, wo), dtype=x.dtype)
    _parallel(n * c, lambda lo, hi: _max_pool(x3, kh, kw, sh, sw, out, lo, hi), x.size)
    return out.reshape(n, c, ho, wo), CompiledCache(("max_pool", x3, out, (n, c, h, w), kh, kw, sh, sw))


def max_pool_backward(dout, cache):
    _, x3, out, shape, kh, kw, sh, sw = cache
    dx = np.empty(x3.shape, dtype=x3.dtype)
    d3 = np.ascontiguousarray(dout, dtype=x3.dtype).reshape(out.shape)
    _parallel(x3.shape[0], lambda lo, hi: _max_pool_backward(x3, out, d3, kh, kw, sh, sw, dx, lo, hi), dx.size)
    return dx.reshape(shape)


# ============================================================================ batch norm (N, C, H, W)
@njit(inline="always")
def _shifted_sums(v, shift):  # pragma: no cover - compiled
    """(sum(v - shift), sum((v - shift)^2)) in float64, with 8 independent accumulators per sum."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 0.0
    m = v.size - v.size % 8
    for i in range(0, m, 8):
        d0, d1, d2, d3 = v[i] - shift, v[i + 1] - shift, v[i + 2] - shift, v[i + 3] - shift
        d4, d5, d6, d7 = v[i + 4] - shift, v[i + 5] - shift, v[i + 6] - shift, v[i + 7] - shift
        s0 += d0; s1 += d1; s2 += d2; s3 += d3; s4 += d4; s5 += d5; s6 += d6; s7 += d7  # noqa: E702
        q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3  # noqa: E702
        q4 += d4 * d4; q5 += d5 * d5; q6 += d6 * d6; q7 += d7 * d7  # noqa: E702
    for i in range(m, v.size):
        d = v[i] - shift
        s0 += d
        q0 += d * d
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))


@njit(inline="always")
def _dot_sums(dv, v, center):  # pragma: no cover - compiled
    """(sum(dv), sum(dv * (v - center))) in float64, 8 accumulators each."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 0.0
    m = v.size - v.size % 8
    for i in range(0, m, 8):
        g0, g1, g2, g3, g4, g5, g6, g7 = dv[i], dv[i + 1], dv[i + 2], dv[i + 3], dv[i + 4], dv[i + 5], dv[i + 6], dv[i + 7]
        s0 += g0; s1 += g1; s2 += g2; s3 += g3; s4 += g4; s5 += g5; s6 += g6; s7 += g7  # noqa: E702
        q0 += g0 * (v[i] - center); q1 += g1 * (v[i + 1] - center)  # noqa: E702
        q2 += g2 * (v[i + 2] - center); q3 += g3 * (v[i + 3] - center)  # noqa: E702
        q4 += g4 * (v[i + 4] - center); q5 += g5 * (v[i + 5] - center)  # noqa: E702
        q6 += g6 * (v[i + 6] - center); q7 += g7 * (v[i + 7] - center)  # noqa: E702
    for i in range(m, v.size):
        s0 += dv[i]
        q0 += dv[i] * (v[i] - center)
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))


@njit(**_JIT)
def _bn_stats(x, mean, var, lo, hi):  # pragma: no cover - compiled
    """Per channel lo <= c < hi of x (N, C, M): mean = sum(x) / (N*M) and the biased var = sum((x - mean)^2) / (N*M),
    from one pass of shifted sums around the channel's first value K:
    mean = K + S1/m, var = S2/m - (S1/m)^2 with S1 = sum(x - K), S2 = sum((x - K)^2) in float64."""
    n, m = x.shape[0], x.shape[2]
    total = n * m
    for c in range(lo, hi):
        shift = np.float64(x[0, c, 0])
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            a, b = _shifted_sums(x[i, c], shift)
            s1 += a
            s2 += b
        d = s1 / total
        mean[c] = shift + d
        var[c] = max(s2 / total - d * d, 0.0)


@njit(**_JIT)
def _bn_apply(x, mean, scale, beta, out, lo, hi):  # pragma: no cover - compiled
    """out[n, c, :] = (x[n, c, :] - mean[c]) * scale[c] + beta[c] with scale = gamma / sqrt(var + eps),
    for the (n, c) planes t = n*C + c in lo <= t < hi."""
    c_, m = x.shape[1], x.shape[2]
    for t in range(lo, hi):
        i, c = t // c_, t % c_
        mu, s, b0 = mean[c], scale[c], beta[c]
        src, dst = x[i, c], out[i, c]
        for j in range(m):
            dst[j] = (src[j] - mu) * s + b0


@njit(**_JIT)
def _bn_backward_sums(dout, x, mean, dbeta, dxc, lo, hi):  # pragma: no cover - compiled
    """Per channel lo <= c < hi: dbeta = sum dout, dxc = sum dout * (x - mean) (float64 accumulators)."""
    n = x.shape[0]
    for c in range(lo, hi):
        center = np.float64(mean[c])
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            a, b = _dot_sums(dout[i, c], x[i, c], center)
            s1 += a
            s2 += b
        dbeta[c] = s1
        dxc[c] = s2


@njit(**_JIT)
def _bn_backward_apply(dout, x, mean, k1, k2, k3, dx, lo, hi):  # pragma: no cover - compiled
    """dx[n, c, :] = k1[c] * (dout - k2[c] - (x - mean[c]) * k3[c]) for the planes lo <= n*C + c < hi."""
    c_, m = x.shape[1], x.shape[2]
    for t in range(lo, hi):
        i, c = t // c_, t % c_
        mu, a1, a2, a3 = mean[c], k1[c], k2[c], k3[c]
        g, src, dst = dout[i, c], x[i, c], dx[i, c]
        for j in range(m):
            dst[j] = a1 * (g[j] - a2 - (src[j] - mu) * a3)


def batchnorm_forward(x, gamma, beta, running, train, momentum, eps):
    """Spatial batch norm of x (N, C, H, W); the same formulas as the reference kernel."""
    n, c, h, w = x.shape
    x3 = np.ascontiguousarray(x).reshape(n, c, h * w)
    dtype = x.dtype
    if train:
        m = n * h * w
        mean64, var64 = np.empty(c), np.empty(c)
        _parallel(c, lambda lo, hi: _bn_stats(x3, mean64, var64, lo, hi), x.size)
        mean, var = mean64.astype(dtype), var64.astype(dtype)
        running["mean"] *= 1 - momentum
        running["mean"] += momentum * mean
        running["var"] *= 1 - momentum
        running["var"] += momentum * var * (m / (m - 1))
    else:
        mean, var = running["mean"], running["var"]
    inv_std = (1 / np.sqrt(var + dtype.type(eps))).astype(dtype)
    scale = (gamma * inv_std).astype(dtype)
    out = np.empty((n, c, h * w), dtype=dtype)
    mean_, beta_ = np.ascontiguousarray(mean, dtype=dtype), np.ascontiguousarray(beta, dtype=dtype)
    _parallel(n * c, lambda lo, hi: _bn_apply(x3, mean_, scale, beta_, out, lo, hi), x.size)
    cache = CompiledCache(("batchnorm", x3, x.shape, np.array(mean, dtype=dtype), inv_std, gamma, train))
    return out.reshape(x.shape), cache


def batchnorm_backward(dout, cache):
    """dbeta = sum dout, dgamma = sum dout * x_hat, and (train)
    dx = gamma * inv_std * (dout - dbeta / m - x_hat * dgamma / m), x_hat = (x - mean) * inv_std;
    (eval) dx = gamma * inv_std * dout."""
    _, x3, shape, mean, inv_std, gamma, train = cache
    n, c, hw = x3.shape
    dtype = x3.dtype
    d3 = np.ascontiguousarray(dout, dtype=dtype).reshape(n, c, hw)
    dbeta64, dxc64 = np.empty(c), np.empty(c)
    _parallel(c, lambda lo, hi: _bn_backward_sums(d3, x3, mean, dbeta64, dxc64, lo, hi), x3.size)
    dbeta = dbeta64.astype(dtype)
    dgamma = (dxc64 * inv_std).astype(dtype)
    k1 = (gamma * inv_std).astype(dtype)
    if train:
        m = n * hw
        k2 = (dbeta64 / m).astype(dtype)
        k3 = (dxc64 * inv_std.astype(np.float64) ** 2 / m).astype(dtype)
    else:
        k2 = np.zeros(c, dtype)
        k3 = np.zeros(c, dtype)
    dx = np.empty((n, c, hw), dtype=dtype)
    _parallel(n * c, lambda lo, hi: _bn_backward_apply(d3, x3, mean, k1, k2, k3, dx, lo, hi), x3.size)
    return dx.reshape(shape), dgamma, dbeta
