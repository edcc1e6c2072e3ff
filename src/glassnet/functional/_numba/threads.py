"""glassnet's pool of threads for the compiled kernels: one hand-off per layer, work claimed piece by piece.

Every compiled kernel is serial and releases the GIL (``nogil``); :func:`parallel` and
:func:`run_tiles` cut a layer's work into pieces that ``glassnet.kernels.get_num_threads()``
threads, the calling thread included, claim one at a time until none is left. numba's OpenMP
layer is not used: its workers spun while BLAS ran products on threads of its own (an MLP step at
2 threads: 40 ms, against 7 ms); here BLAS runs single-threaded inside every region.

Why claiming rather than one fixed share per thread: a helper may start late (one that slept
takes 30-100 us to wake on the 2-core virtual machine of BENCHMARKS.md). With fixed shares the
caller would wait for it; here the caller starts on the first piece at once, a late helper takes
what is left, and the caller waits only for pieces a helper has actually claimed.

Why helpers spin for a moment between layers (:class:`_Team`): a thread that blocks - on a queue,
or on the GIL - lets its core go idle, and waking an idle core costs tens of microseconds (on
this virtual machine a halted vCPU; on a laptop a sleep state), twice per layer. So a helper
that has finished a layer waits for the next one in compiled code, without the GIL, for
``SPIN_SECONDS``, and only then sleeps; it marks itself idle from that compiled code, so the
caller, which also waits for its helpers in compiled code, takes the GIL back uncontended. A
region of two 180 us halves: 310-610 us with sleeping helpers, 200-220 us with spinning ones.

Results do not depend on the thread count nor on which thread ran which piece: element-wise
kernels and per-channel sums compute each value in one piece, and :func:`run_tiles` returns one
partial result per part of the tiles, parts fixed by the tiles alone, so the caller adds them in
the same order for any number of threads.
"""
from __future__ import annotations

import functools
import os
import threading
import time

import numpy as np

from ... import kernels
from ...errors import SetupError

PARALLEL_MIN = 1 << 20
"""Element-wise kernels on fewer elements than this run in the calling thread. Measured (ReLU, max
pool; 2 threads on 2 cores): below ~1M float32 elements a pass takes < 0.2 ms and a second thread
gains nothing that pays for waking it; at 8M elements it saves 25-45 %."""

PIECES_PER_THREAD = 4
""":func:`parallel` cuts range(n) into this many pieces per thread (at most n): a helper that starts
late still finds work, and the caller rarely waits long for the last piece."""

SUM_PARTS = 16
"""The tiles of a layer are cut into at most this many parts (at image boundaries) whose partial
sums the caller adds in order; also the most threads one convolution can use."""

SPIN_SECONDS = 2e-3
"""How long a helper that finished a layer waits for the next one in compiled code (its core busy)
before it sleeps. The time between parallel regions of a training step averages 0.3 ms in
ResNet-20, 0.5 ms in the MLP and 0.8 ms in LeNet-5 at batch 64 (two threads); a helper that has
gone to sleep costs the next region 30-100 us to wake (BENCHMARKS.md, sixth pass: spinning 0.2 ms
gained next to nothing, 2 ms up to 9 %). ``GLASSNET_WAIT_POLICY=passive`` (read when a team is made;
``active`` is the default) makes helpers sleep at once, for machines whose cores other programs need."""

GRACE_SECONDS = 15e-6
"""How long a helper that saw a new job keeps waiting in compiled code before it takes the GIL:
the caller posts the job, then enters its own first piece (releasing the GIL) some 5-15 us later. A
helper that asks for the GIL earlier blocks on it, and its core goes idle (measured: the helper's
first piece started 28-34 us after the post without this grace, 13-16 us with it)."""

_teams = {"team": None}
_teams_lock = threading.Lock()
_local = threading.local()  # .helper: this thread is one of the team's


class _Team:
    """``size`` helper threads that run the jobs the calling thread posts, one job at a time.

    A job is (its number, a :class:`_Claims`, the function its claims run, the threads it may use:
    helpers h < workers - 1 join it). The caller posts it (``flags[0]`` = its number), claims pieces
    itself, then waits in compiled code until every helper that joined the job has marked itself
    idle, and finally on the claims (which is what guarantees that every claimed piece is done; the
    compiled wait only makes it likely that nobody holds the GIL by then). Helpers wait for jobs in compiled code (``spin.await_job``) for
    SPIN_SECONDS, then sleep on a condition that the caller notifies. Without numba (the reference
    kernels splitting an inference batch) helpers always sleep.
    """

    def __init__(self, size):
        self.size = size
        self.flags = np.zeros(1 + 2 * size, dtype=np.int64)
        self.job = None
        self.closed = False
        self.cond = threading.Condition(threading.Lock())
        self.spin, look_seconds = _spin_waits()
        spin_seconds = SPIN_SECONDS if _wait_policy() == "active" else 0.0
        self.looks, self.grace = int(spin_seconds / look_seconds), int(GRACE_SECONDS / look_seconds)
        self.threads = [threading.Thread(target=self._serve, args=(h,), name=f"glassnet-{h}", daemon=True)
                        for h in range(size)]
        for t in self.threads:
            t.start()

    def run(self, claims, run, workers):
        """``claims.drain(run)`` on the calling thread and helpers 0 .. workers-2; returns claims.wait()."""
        seq = int(self.flags[0]) + 1
        self.job = (seq, claims, run, workers)
        self.flags[0] = seq
        try:
            with self.cond:  # helpers that gave up spinning sleep here
                self.cond.notify_all()
            claims.drain(run)
            if self.spin is not None:
                self.spin.await_helpers(self.flags, seq, workers - 1, self.looks)
            return claims.wait()
        finally:
            self.job = None  # keeps no layer's arrays alive after the layer

    def close(self):
        """Let the helpers end (a team of another size replaces this one)."""
        self.closed = True
        with self.cond:
            self.flags[0] += 1
            self.cond.notify_all()

    def _serve(self, h):
        _local.helper = True
        seq = 0
        while True:
            if self.spin is not None:
                self.spin.await_job(self.flags, h, seq, self.looks, self.grace)
            with self.cond:
                self.cond.wait_for(lambda: self.flags[0] != seq)
                seq, job = int(self.flags[0]), self.job
            if self.closed:
                return
            if job is not None and job[0] == seq and h < job[3] - 1:  # else: late, or not needed
                _, claims, run, _ = job
                claims.drain(run, on_join=lambda: self.flags.__setitem__(1 + h, seq))


def _wait_policy():
    """GLASSNET_WAIT_POLICY: "active" (helpers spin SPIN_SECONDS between jobs, the default) or "passive"."""
    policy = os.environ.get("GLASSNET_WAIT_POLICY", "active").strip().lower() or "active"
    if policy not in ("active", "passive"):
        raise SetupError(f"GLASSNET_WAIT_POLICY={policy!r}: expected active or passive")
    return policy


@functools.lru_cache(maxsize=1)
def _spin_waits():
    """(the module of compiled waits, or None without numba or with NUMBA_DISABLE_JIT=1; seconds per
    look, timed here once)."""
    try:
        from numba import config  # noqa: PLC0415

        from . import spin  # noqa: PLC0415 - imports numba
    except ImportError:  # the reference kernels without numba: helpers sleep between jobs
        return None, 1.0
    if config.DISABLE_JIT:  # the kernels run as Python (a debugger); the waits' intrinsic cannot
        return None, 1.0
    flags = np.zeros(3, dtype=np.int64)
    spin.await_job(flags, 0, 0, 10, 0)  # compiled (or loaded from the cache) before timing
    looks = 20_000
    t0 = time.perf_counter()
    spin.await_job(flags, 0, 0, looks, 0)
    return spin, max((time.perf_counter() - t0) / looks, 1e-9)


def _forget_team():
    _teams["team"] = None


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads: it makes its own team
    os.register_at_fork(after_in_child=_forget_team)


def _team(helpers):
    """The team of ``helpers`` threads (one of another size is closed and replaced: helpers beyond
    the thread count would spin for nothing). Its size follows ``kernels.get_num_threads()``, not the
    threads one job can use, so a job with fewer pieces than threads does not replace it."""
    with _teams_lock:
        team = _teams["team"]
        if team is None or team.size != helpers:
            new = _Team(helpers)  # first: if it cannot be made, the old team goes on serving
            if team is not None:
                team.close()
            team = _teams["team"] = new
        return team


class _Claims:
    """Items 0 .. count-1 claimed one at a time by whichever thread asks first.

    ``drain(run)`` calls ``run(items)`` with an iterator that claims item indices as it is advanced;
    ``run`` returns one result per item it was given, in order, and these land at the items' indices
    in ``results``. :meth:`wait` returns once every claimed item's result is stored. A helper that
    arrives after the last claim returns at once and is never waited for.
    """

    def __init__(self, count):
        self.count, self.next, self.active = count, 0, 0
        self.results = [None] * count
        self.error = None
        self.cond = threading.Condition(threading.Lock())

    def _claim(self):
        with self.cond:
            if self.next >= self.count:
                return None
            self.next += 1
            return self.next - 1

    def drain(self, run, on_join=None):
        with self.cond:
            if self.next >= self.count:  # a late helper: nothing left
                return
            self.active += 1
            if on_join is not None:
                on_join()
        claimed = []

        def items():
            while (i := self._claim()) is not None:
                claimed.append(i)
                yield i

        try:
            for i, result in zip(claimed, list(run(items()))):
                self.results[i] = result
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by wait()
            with self.cond:
                self.error = self.error or exc
                self.next = self.count  # nobody claims more
        finally:
            with self.cond:
                self.active -= 1
                self.cond.notify_all()

    def wait(self):
        with self.cond:
            self.cond.wait_for(lambda: self.active == 0)
        if self.error is not None:
            raise self.error
        return self.results


def _shared(count, run, workers):
    """``run`` (see :class:`_Claims`) over items 0..count-1 on ``workers`` threads, the caller one of
    them; returns the results in item order. Called from a piece that a helper runs, the helper
    runs the items itself (the team serves one job at a time)."""
    claims = _Claims(count)
    if getattr(_local, "helper", False):
        claims.drain(run)
        return claims.wait()
    return _team(kernels.get_num_threads() - 1).run(claims, run, workers)


def parallel(n, fn, size=None):
    """[fn(lo, hi) for the pieces (lo, hi) of range(n)], run by the calling thread and the pool.

    range(n) is cut into PIECES_PER_THREAD pieces per thread (at most n), claimed one at a time
    (:class:`_Claims`). With one thread, or a problem of fewer than PARALLEL_MIN elements
    (``size``: the values of a one-array-in, one-out pass; heavier passes count each value several
    times, as batch norm's do), it is one piece run here. Returns the results in order.
    """
    workers = min(kernels.get_num_threads(), n)
    if workers <= 1 or (size is not None and size < PARALLEL_MIN):
        return [fn(0, n)]
    bounds = pieces(n, min(n, PIECES_PER_THREAD * workers))
    return _shared(len(bounds), lambda items: [fn(*bounds[i]) for i in items], workers)


@functools.lru_cache(maxsize=256)
def pieces(n, count):
    """range(n) cut into ``count`` pieces (lo, hi) of nearly equal length (remembered: layers call
    with the same few sizes, and building them cost more than a small kernel)."""
    bounds = np.linspace(0, n, count + 1).astype(np.int64).tolist()
    return tuple(zip(bounds[:-1], bounds[1:]))


class _OneThreadBlas:
    """Every loaded BLAS on one thread inside the block, the previous counts restored after it.

    Covers NumPy's BLAS and the one numba's ``np.dot`` calls (SciPy's, loaded here first so it is
    found). The libraries are found once, by threadpoolctl; the counts are then read and set per
    block through :func:`_count_functions` (OpenBLAS's own functions: 0.2 us a call), not through
    threadpoolctl's ``limit`` context (about 40 us, which at batch 1 is most of a LeNet forward
    pass). A BLAS left on several threads would spin between products and take the cores from
    glassnet's threads.
    """

    libraries = None

    def __enter__(self):
        if _OneThreadBlas.libraries is None:
            import scipy.linalg.cython_blas  # noqa: F401, PLC0415 - the BLAS of numba's np.dot
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415

            found = ThreadpoolController().select(user_api="blas").lib_controllers
            _OneThreadBlas.libraries = [_count_functions(lib) for lib in found]
        self.changed = [(set_count, n) for get_count, set_count in _OneThreadBlas.libraries if (n := get_count()) != 1]
        for set_count, _ in self.changed:
            set_count(1)
        return self

    def __exit__(self, *exc):
        for set_count, n in self.changed:
            set_count(n)
        return False


def _count_functions(lib):
    """(get, set) of the thread count of one BLAS (a threadpoolctl library controller).

    For OpenBLAS on its own threads (not OpenMP's) these are ``openblas_get_num_threads`` and
    ``openblas_set_num_threads`` themselves, looked up once (``lib._get_symbol`` adds the library's
    symbol prefix and suffix, e.g. SciPy's ``scipy_..._64_``): 0.2 us a call, against 0.7 us to read
    and 2 us to set through the controller, which per block was 1.5 us at one thread and 4-7 us at
    two (set to one and back) of a 30 us LeNet-5 forward pass at batch 1. Setting the count directly
    skips threadpoolctl's rule that only the first Python thread to set it may change it (through the
    controller, a layer run from another thread left BLAS on all its threads); the thread that runs a
    layer sets it and restores it after. Any other BLAS (or a threadpoolctl without ``_get_symbol``)
    goes through the controller.
    """
    symbol = getattr(lib, "_get_symbol", None)
    if lib.internal_api == "openblas" and getattr(lib, "threading_layer", None) == "pthreads" and symbol is not None:
        get_count, set_count = symbol("openblas_get_num_threads"), symbol("openblas_set_num_threads")
        if get_count is not None and set_count is not None:
            return get_count, set_count
    return (lambda: lib.num_threads), lib.set_num_threads


def blas_one_thread():
    """A context in which every BLAS runs single-threaded (see :class:`_OneThreadBlas`)."""
    return _OneThreadBlas()


def tile_parts(tiles):
    """``tiles`` cut into at most SUM_PARTS contiguous parts, each starting at a new image.

    The row bands of one image accumulate into the same rows of dx (their halos overlap), so they
    stay in one part. The cut depends on the tiles only, never on the thread count. The parts of
    the tiles last seen are remembered (a layer cuts the same tiles at every step: 30-80 us each
    time for 128 images, most of it with the caches cold after the layer before).
    """
    return _tile_parts(tuple(tiles), SUM_PARTS)


@functools.lru_cache(maxsize=256)
def _tile_parts(tiles, most):
    starts = [t for t in range(len(tiles)) if t == 0 or tiles[t][0] != tiles[t - 1][0]]
    cuts = sorted({starts[i] for i in np.linspace(0, len(starts), min(most, len(starts)) + 1)[:-1].astype(int)})
    return tuple(tiles[a:b] for a, b in zip(cuts, cuts[1:] + [len(tiles)]))


def run_tiles(tiles, work):
    """work(parts) yields one result per part it is given; returns the results of all parts in order.

    ``tiles`` are cut into parts (:func:`tile_parts`). With one thread ``work`` gets them all. With
    T threads each thread calls ``work`` once with an iterator that claims parts one at a time
    (so its scratch buffers are made once per thread, and one layer costs one hand-off), while BLAS
    runs single-threaded: each thread multiplies its own tiles.
    """
    parts = tile_parts(tiles)
    with blas_one_thread():  # also for one share: a BLAS on several threads would spin between tiles
        workers = min(kernels.get_num_threads(), len(parts))
        if workers <= 1:
            return list(work(parts))
        return _shared(len(parts), lambda items: work(parts[i] for i in items), workers)
