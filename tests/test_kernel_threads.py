"""glassnet's pool of threads (functional/_numba/threads.py): pieces of work claimed one at a time by the
calling thread and the pool. Every piece runs exactly once, results come back in piece order whatever
thread ran what, errors reach the caller, and the caller never waits for a helper that claimed nothing."""
import threading

import numpy as np
import pytest

from glassnet import kernels
from glassnet.functional._numba import threads


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(threads, "PARALLEL_MIN", 0)


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 5, 37])
def test_parallel_runs_every_piece_once_and_returns_results_in_order(n_threads, n):
    seen = np.zeros(n, dtype=int)
    with kernels.using(threads=n_threads):
        results = threads.parallel(n, lambda lo, hi: (seen.__setitem__(slice(lo, hi), seen[lo:hi] + 1), (lo, hi))[1])
    np.testing.assert_array_equal(seen, np.ones(n, dtype=int))
    bounds = [b for piece in results for b in piece]
    assert bounds[0] == 0 and bounds[-1] == n and all(a == b for a, b in zip(bounds[1:-1:2], bounds[2::2]))
    assert len(results) == (1 if n_threads == 1 else min(n, threads.PIECES_PER_THREAD * min(n_threads, n)))


def test_parallel_keeps_small_problems_in_the_calling_thread():
    ran_in = []
    with kernels.using(threads=2):
        threads.parallel(8, lambda lo, hi: ran_in.append(threading.get_ident()), size=threads.PARALLEL_MIN - 1)
    assert ran_in == [threading.get_ident()]


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_run_tiles_gives_one_result_per_part_in_part_order_and_one_work_call_per_thread(n_threads):
    tiles = [(n, n + 1, 0, 4) for n in range(40)]  # 40 images: cut into SUM_PARTS parts
    calls = []

    def work(parts):
        calls.append(1)
        for part in parts:
            yield [t[0] for t in part]

    with kernels.using(threads=n_threads):
        results = threads.run_tiles(tiles, work)
    assert len(results) == threads.SUM_PARTS
    assert [n for part in results for n in part] == list(range(40))
    assert len(calls) <= n_threads


@pytest.mark.usefixtures("small_pieces")
def test_the_caller_does_all_pieces_itself_while_the_pool_is_busy():
    """A helper that starts late finds nothing left, and the caller does not wait for it."""
    with kernels.using(threads=2):
        threads.parallel(2, lambda lo, hi: None)  # the pool exists
        release = threading.Event()
        threads._executor(1).submit(release.wait)  # occupy its one thread
        try:
            ran_in = []
            results = threads.parallel(6, lambda lo, hi: ran_in.append(threading.get_ident()) or (lo, hi))
        finally:
            release.set()
    assert set(ran_in) == {threading.get_ident()} and len(ran_in) == 6
    assert results[0][0] == 0 and results[-1][1] == 6


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("failing_piece", [0, 5])
def test_an_error_in_any_piece_reaches_the_caller_and_the_pool_keeps_working(failing_piece):
    def fn(lo, hi):
        if lo <= failing_piece < hi:
            raise ArithmeticError(f"piece {lo}")
        return hi - lo

    with kernels.using(threads=2):
        with pytest.raises(ArithmeticError, match="piece"):
            threads.parallel(8, fn)
        assert sum(threads.parallel(8, lambda lo, hi: hi - lo)) == 8
