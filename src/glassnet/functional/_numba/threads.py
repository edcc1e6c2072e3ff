"""glassnet's pool of threads for the compiled kernels: one hand-off per layer.

Every compiled kernel is serial and releases the GIL (``nogil``); :func:`parallel` and
:func:`run_tiles` split a layer's work into shares run by ``glassnet.kernels.get_num_threads()``
threads, the calling thread included. numba's OpenMP layer is not used: its spinning workers
fought BLAS's for the cores (an MLP step at 2 threads: 40 ms, against 7 ms), and one pool that
sleeps when idle is easier to reason about.

Results do not depend on the thread count: element-wise kernels and per-channel sums compute each
value in one thread whatever the split, and :func:`run_tiles` returns one partial result per part
of the tiles, parts fixed by the tiles alone, so the caller adds them in the same order for any
number of threads.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ... import kernels

PARALLEL_MIN = 1 << 16
"""Element-wise kernels on fewer elements than this run in the calling thread (a hand-off costs more)."""

SUM_PARTS = 16
"""The tiles of a layer are cut into at most this many parts (at image boundaries) whose partial
sums the caller adds in order; also the most threads one convolution can use."""

_pool = {"executor": None, "size": 0}
_pool_lock = threading.Lock()


def _executor(workers):
    """The pool, grown to at least ``workers`` threads (a smaller old pool is left to idle)."""
    with _pool_lock:
        if _pool["size"] < workers:
            _pool["executor"] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glassnet")
            _pool["size"] = workers
        return _pool["executor"]


def parallel(n, fn, size=None):
    """[fn(lo, hi) for the shares of range(n)], the first share in this thread, the others in the pool.

    One share per thread (at most n); a problem of fewer than PARALLEL_MIN elements (``size``) is
    one share. Returns the results in order.
    """
    workers = min(kernels.get_num_threads(), n)
    if workers <= 1 or (size is not None and size < PARALLEL_MIN):
        return [fn(0, n)]
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    futures = [_executor(workers - 1).submit(fn, int(lo), int(hi)) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    first = fn(0, int(bounds[1]))
    return [first] + [f.result() for f in futures]


class _OneThreadBlas:
    """Every loaded BLAS on one thread inside the block, the previous counts restored after it.

    Covers NumPy's BLAS and the one numba's ``np.dot`` calls (SciPy's, loaded here first so it is
    found). The counts are set directly through threadpoolctl's library controllers (a few
    microseconds per block), not through its ``limit`` context (about 40 us, which at batch 1 is most
    of a LeNet forward pass). A BLAS left on several threads would spin between products and take
    the cores from glassnet's threads.
    """

    libraries = None

    def __enter__(self):
        if _OneThreadBlas.libraries is None:
            import scipy.linalg.cython_blas  # noqa: F401, PLC0415 - the BLAS of numba's np.dot
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415

            _OneThreadBlas.libraries = ThreadpoolController().select(user_api="blas").lib_controllers
        self.changed = [(lib, n) for lib in _OneThreadBlas.libraries if (n := lib.num_threads) != 1]
        for lib, _ in self.changed:
            lib.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        for lib, n in self.changed:
            lib.set_num_threads(n)
        return False


def blas_one_thread():
    """A context in which every BLAS runs single-threaded (see :class:`_OneThreadBlas`)."""
    return _OneThreadBlas()


def tile_parts(tiles):
    """``tiles`` cut into at most SUM_PARTS contiguous parts, each starting at a new image.

    The row bands of one image accumulate into the same rows of dx (their halos overlap), so they
    stay in one part. The cut depends on the tiles only, never on the thread count.
    """
    starts = [t for t in range(len(tiles)) if t == 0 or tiles[t][0] != tiles[t - 1][0]]
    cuts = sorted({starts[i] for i in np.linspace(0, len(starts), min(SUM_PARTS, len(starts)) + 1)[:-1].astype(int)})
    return [tiles[a:b] for a, b in zip(cuts, cuts[1:] + [len(tiles)])]


def run_tiles(tiles, work):
    """work(list of parts) -> [result of each part]; returns the results of all parts in order.

    With one thread this is a single call. With T threads the parts are split into T contiguous
    shares, and BLAS runs single-threaded meanwhile: each thread multiplies its own tiles, so a
    layer costs one hand-off instead of one parallel region per tile.
    """
    parts = tile_parts(tiles)
    with blas_one_thread():  # also for one share: a BLAS on several threads would spin between tiles
        if kernels.get_num_threads() <= 1 or len(parts) < 2:
            return work(parts)
        shares = parallel(len(parts), lambda lo, hi: work(parts[lo:hi]))
    return [result for share in shares for result in share]
