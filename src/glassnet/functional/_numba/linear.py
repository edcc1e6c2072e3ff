"""Twin of ``functional/linear.py``: the same three matrix products, cut into parts fixed by the
shapes and split between glassnet's threads, each part a single-threaded BLAS product.

The reference leaves threading to BLAS. With several threads that costs twice on small networks:
BLAS's own threads spin between products and take the cores from glassnet's pool, and a product
of a few million multiply-adds gains less from a hand-off than it pays. Here BLAS always runs on
one thread; a product of at least ``PART_MACS`` multiply-adds per part is cut into parts along an
axis that is not summed over (rows of out, columns of dx, rows of dw), so every value is computed by the
same single product whatever the thread count, and the parts are shared between the threads
when they hold at least ``SHARE_MACS`` multiply-adds in all. Where the parts run in one thread
anyway, a product whose whole gives its parts' bits (a probe per shape) runs whole.
(No numba code: the products are BLAS's; the module sits with the other twins because it is the
compiled path's version of the reference.)

    out = x2 @ w + b                 parts: rows n of x2
    dx  = dout @ w.T                 parts: columns d of dx (rows of w)
    dw  = x2.T @ dout                parts: rows d of dw (columns of x2)
    db  = sum_n dout[n]

The backward's two products are already two parts of equal size, so together they get the parts of
one: each is cut into half as many (a part costs more than it saves on one thread: it packs the
operand that all parts share once more). dx is cut along its columns, so the operand the parts
share is dout (N x M), not the larger w (D x M) that a cut along its rows would pack again per part.
Measured on the MLP's second layer (256 x 512 x 512, one thread, over the whole product): dx cut in
two along rows +16 %, along columns +6 %; dw in two +7 %, in four +10 %.
"""
from __future__ import annotations

import numpy as np

from ... import kernels
from . import CompiledCache
from .threads import blas_one_thread, parallel, pieces

PART_MACS = 1 << 21
"""Multiply-adds per part at least (~40 us of single-threaded BLAS): smaller products stay whole."""

MAX_PARTS = 4
MIN_ROWS = 128
"""At most MAX_PARTS parts of at least MIN_ROWS rows each. Parts cost: measured on the MLP's first
layer (256 x 784 x 512, one thread), 2 parts +4-7 %, 4 parts +10-27 %, 8 parts +27-73 % over the
whole product, so a part keeps >= 128 rows. The parts depend on the shapes only: BLAS rounds a
product cut into other parts differently (its small-matrix kernels), and results must not depend
on the thread count."""


SHARE_MACS = 1 << 23
"""Products (all their parts together) of fewer multiply-adds than this (8.4M, ~0.1 ms) run in the
calling thread: handing them to a pool thread costs more than it saves. Measured on two threads:
LeNet-5's first linear layer at batch 64 (backward dx and dw of 3M multiply-adds each) 0.05 ms
in one thread, 0.17-0.23 ms shared; training steps, always sharing against this threshold
(interleaved, medians of 8 rounds): LeNet-5 b64 5.1-6.6 -> 5.0-6.1 ms, b256 15.4-16.5 ->
15.2-15.7 ms, the MLP even (16.8M gave b256 15.7 -> 16.7: its 12M forward products gain from two
threads)."""


def _parts(rows, macs, products=1):
    """Bounds [(r0, r1)] of the parts of a product with ``rows`` rows to cut and ``macs`` multiply-adds,
    one of ``products`` products of that size that share the parts one of them would get."""
    count = max(1, min(MAX_PARTS, macs // PART_MACS, rows // MIN_ROWS))
    return pieces(rows, int(max(1, count // products)))


def _out_rows(x2, w, b, out, r0, r1):
    """out[r0:r1] = x2[r0:r1] @ w + b."""
    np.matmul(x2[r0:r1], w, out=out[r0:r1])
    out[r0:r1] += b


def _dw_rows(x2, dout, dw, r0, r1):
    """dw[r0:r1] = x2[:, r0:r1].T @ dout."""
    np.matmul(x2[:, r0:r1].T, dout, out=dw[r0:r1])


def _dx_columns(dout, w, dx2, r0, r1):
    """dx2[:, r0:r1] = dout @ w[r0:r1].T."""
    np.matmul(dout, w[r0:r1].T, out=dx2[:, r0:r1])


PROBE_MAX = 1 << 24
"""Largest product (operands and output together, in values) :func:`_whole_gives_parts_bits` probes
with operands of its own; larger ones (and strided operands) always run in parts (their parts cost
a smaller share)."""

_whole_matches = {}


def _whole_gives_parts_bits(product, operands, out, parts):
    """Whether ``product`` computed whole gives bit for bit what its ``parts`` give, for operands of
    these shapes, memory orders and dtype. BLAS sums each value in an order that its choice of kernel
    and blocking fixes, and that choice follows the shapes, not the values: one probe per shape, on
    standard-normal operands of its own (remembered), answers for all data. A sum in another order
    would change some of the probe's values. OpenBLAS, for example, gives the same bits for the
    MLP's products cut in rows, but not where the whole product and its parts take different
    kernels (128 x 1024 x 10)."""
    orders = tuple(_order(a) for a in operands)
    key = (product, tuple(np.shape(a) for a in operands), orders, out.shape, out.dtype, parts)
    if key not in _whole_matches:
        size = sum(np.size(a) for a in operands) + out.size
        if size > PROBE_MAX or None in orders:
            _whole_matches[key] = False
        else:
            rng = np.random.default_rng(0)
            fake = [np.asarray(rng.standard_normal(np.shape(a)), dtype=out.dtype, order=order)
                    for a, order in zip(operands, orders)]
            whole, cut = np.empty_like(out), np.empty_like(out)
            product(*fake, whole, 0, parts[-1][1])
            for r0, r1 in parts:
                product(*fake, cut, r0, r1)
            _whole_matches[key] = bool(np.array_equal(whole, cut))
    return _whole_matches[key]


def _order(a):
    """An operand's memory order, which BLAS's choice of kernel may follow as well: "C", "F", or None
    for a strided view (not probed)."""
    if not isinstance(a, np.ndarray) or a.flags.c_contiguous:
        return "C"
    return "F" if a.flags.f_contiguous else None


def _run(jobs, macs):
    """Every job (product, operands, out, parts): product(*operands, out, r0, r1) for each part, BLAS
    on one thread each. With several threads, several parts and ``macs`` >= SHARE_MACS
    multiply-adds in all, the parts are shared between the threads (one hand-off for all of them).
    Otherwise they run here, and a product whose whole gives its parts' bits
    (:func:`_whole_gives_parts_bits`) runs whole: its parts only serve the threads, and on one thread
    each costs a packing of the operand the parts share (the MLP's first layer: +14 %)."""
    with blas_one_thread():
        tasks = [(job, part) for job in jobs for part in job[3]]
        if kernels.get_num_threads() > 1 and len(tasks) > 1 and macs >= SHARE_MACS:
            parallel(len(tasks), lambda lo, hi: [job[0](*job[1], job[2], *part) for job, part in tasks[lo:hi]])
            return
        for product, operands, out, parts in jobs:
            if len(parts) > 1 and _whole_gives_parts_bits(product, operands, out, parts):
                parts = ((0, parts[-1][1]),)
            for r0, r1 in parts:
                product(*operands, out, r0, r1)


def affine_forward(x, w, b):
    """out = x2 @ w + b, x2 = x flattened to (N, D); parts: rows of x2."""
    x2 = np.ascontiguousarray(x).reshape(x.shape[0], -1)
    out = np.empty((x2.shape[0], w.shape[1]), dtype=x.dtype)
    macs = x2.size * w.shape[1]
    _run([(_out_rows, (x2, w, b), out, _parts(x2.shape[0], macs))], macs)
    return out, CompiledCache(("affine", x, w))


def affine_backward(dout, cache, need_dx=True):
    """dx = dout @ w.T (None if not ``need_dx``), dw = x2.T @ dout, db = sum_n dout[n]; dx and dw
    are cut along d into the parts of one product and shared between the threads together."""
    _, x, w = cache
    x2 = np.ascontiguousarray(x).reshape(x.shape[0], -1)
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    macs = x2.size * w.shape[1]
    parts = _parts(w.shape[0], macs, products=2 if need_dx else 1)
    dw = np.empty(w.shape, dtype=x.dtype)
    jobs = [(_dw_rows, (x2, dout), dw, parts)]
    dx2 = np.empty_like(x2) if need_dx else None
    if need_dx:
        jobs.append((_dx_columns, (dout, w), dx2, parts))
    _run(jobs, 2 * macs if need_dx else macs)
    return (dx2.reshape(x.shape) if need_dx else None), dw, dout.sum(axis=0)
