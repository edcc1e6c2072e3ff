"""Twin of ``functional/linear.py``: the same three matrix products, cut into parts fixed by the
shapes and split between glassnet's threads, each part a single-threaded BLAS product.

The reference leaves threading to BLAS. With several threads that costs twice on small networks:
BLAS's own threads spin between products and take the cores from glassnet's pool, and a product
of a few million multiply-adds gains less from a hand-off than it pays. Here BLAS always runs on
one thread; a product of at least ``PART_MACS`` multiply-adds per part is cut into parts along an
axis that is not summed over (rows of out, columns of dx, rows of dw), so every value is computed by the
same single product whatever the thread count, and the parts are shared between the threads
when they hold at least ``SHARE_MACS`` multiply-adds in all.
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


def _run(tasks, macs):
    """product(r0, r1) for every task (product, (r0, r1)), BLAS on one thread each; the tasks are
    shared between the threads (one hand-off for all of them) when there are several and they hold
    ``macs`` >= SHARE_MACS multiply-adds in all, else run here in order (same products either way)."""
    with blas_one_thread():
        if len(tasks) == 1 or macs < SHARE_MACS:
            for product, (r0, r1) in tasks:
                product(r0, r1)
        else:
            parallel(len(tasks), lambda lo, hi: [product(r0, r1) for product, (r0, r1) in tasks[lo:hi]])


def _tasks(product, parts):
    return [(product, part) for part in parts]


def affine_forward(x, w, b):
    """out = x2 @ w + b, x2 = x flattened to (N, D); parts: rows of x2."""
    x2 = np.ascontiguousarray(x).reshape(x.shape[0], -1)
    out = np.empty((x2.shape[0], w.shape[1]), dtype=x.dtype)

    def product(r0, r1):
        np.matmul(x2[r0:r1], w, out=out[r0:r1])
        out[r0:r1] += b

    macs = x2.size * w.shape[1]
    _run(_tasks(product, _parts(x2.shape[0], macs)), macs)
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
    tasks = _tasks(lambda r0, r1: np.matmul(x2[:, r0:r1].T, dout, out=dw[r0:r1]), parts)
    dx2 = np.empty_like(x2) if need_dx else None
    if need_dx:
        tasks += _tasks(lambda r0, r1: np.matmul(dout, w[r0:r1].T, out=dx2[:, r0:r1]), parts)
    _run(tasks, 2 * macs if need_dx else macs)
    return (dx2.reshape(x.shape) if need_dx else None), dw, dout.sum(axis=0)
