"""glassnet's pool of threads (functional/_numba/threads.py): pieces of work claimed one at a time by the
calling thread and the pool. Every piece runs exactly once, results come back in piece order whatever
thread ran what, errors reach the caller, and the caller never waits for a helper that claimed nothing."""
import contextlib
import threading

import numpy as np
import pytest

from glassnet import kernels
from glassnet.errors import SetupError
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
def test_the_caller_does_all_pieces_itself_while_the_pool_is_busy(monkeypatch):
    """A helper that starts late finds nothing left, and the caller does not wait for it."""
    release = threading.Event()
    drain = threads._Claims.drain

    def late_helper_drain(self, run, on_join=None):
        if getattr(threads._local, "helper", False):
            release.wait()  # the helper is held up until the caller has finished
        return drain(self, run, on_join)

    with kernels.using(threads=2):
        threads.parallel(2, lambda lo, hi: None)  # the team exists
        monkeypatch.setattr(threads._Claims, "drain", late_helper_drain)
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


def _threads_that_ran(n_threads, pieces=8, seconds=0.003):
    """The threads that ran ``pieces`` pieces of ``seconds`` each (sleeping: the GIL is free meanwhile)."""
    import time

    ran_in = set()
    with kernels.using(threads=n_threads):
        threads.parallel(pieces, lambda lo, hi: ran_in.add(threading.get_ident()) or time.sleep(seconds),
                         size=threads.PARALLEL_MIN)
    return ran_in


def _count_threads_that_ran(n_threads):
    return len(_threads_that_ran(n_threads))


@pytest.mark.parametrize("n_threads", [2, 3])
def test_helpers_take_part_and_the_team_has_one_helper_per_extra_thread(n_threads):
    assert len(_threads_that_ran(n_threads)) == n_threads
    assert threads._teams["team"].size == n_threads - 1


def test_a_replaced_team_lets_its_threads_end():
    _threads_that_ran(3)
    old = threads._teams["team"]
    assert len(_threads_that_ran(2)) == 2  # a team of one helper replaces the team of two
    assert threads._teams["team"] is not old and threads._teams["team"].size == 1
    for t in old.threads:
        t.join(timeout=5)
        assert not t.is_alive()


def test_helpers_wait_between_jobs_without_the_gil_then_sleep():
    """Right after a job the helper is still waiting in compiled code; after SPIN_SECONDS it sleeps,
    and a job posted then still wakes it."""
    import time

    team = threads._team(1)
    assert team.spin is not None and team.looks > team.grace > 0
    _threads_that_ran(2)
    time.sleep(threads.SPIN_SECONDS * 20)  # long past the spin: the helper sleeps on the condition
    assert len(_threads_that_ran(2)) == 2


@pytest.mark.skipif(not hasattr(threads.os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_makes_its_own_team():
    import multiprocessing

    _threads_that_ran(2)  # the parent's team exists
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply(_count_threads_that_ran, (2,)) == 2


def test_the_compiled_waits_see_flags_written_by_another_thread():
    import time

    from glassnet.functional._numba import spin

    flags = np.zeros(1 + 2 * 2, dtype=np.int64)  # a team of 2: job, joined[2], idle[2]
    assert spin.await_job(flags, 1, 0, 1000, 0) == 0  # no job came: gives up after its looks
    assert flags[1 + 2 + 1] == 0  # helper 1 marked itself idle after job 0

    def post_later():
        time.sleep(0.01)
        flags[0] = 7

    threading.Thread(target=post_later).start()
    assert spin.await_job(flags, 0, 0, 1 << 40, 0) == 7  # sees the job posted by the other thread
    flags[1 + 0] = 7  # helper 0 joined job 7 and is not idle yet
    assert not spin.await_helpers(flags, 7, 2, 1000)
    flags[1 + 2 + 0] = 7
    assert spin.await_helpers(flags, 7, 2, 1000)
    assert spin.await_helpers(flags, 8, 2, 1)  # nobody joined job 8: nothing to wait for


def test_a_job_with_fewer_pieces_than_threads_keeps_the_team():
    _threads_that_ran(3)
    team = threads._teams["team"]
    with kernels.using(threads=3):
        assert threads.parallel(2, lambda lo, hi: hi - lo, size=threads.PARALLEL_MIN) == [1, 1]
    assert threads._teams["team"] is team


def test_the_passive_wait_policy_makes_helpers_sleep_at_once(monkeypatch):
    monkeypatch.setenv("GLASSNET_WAIT_POLICY", "passive")
    team = threads._Team(1)
    try:
        assert team.looks == 0 and team.grace > 0
    finally:
        team.close()
    monkeypatch.setenv("GLASSNET_WAIT_POLICY", "Active")
    assert threads._wait_policy() == "active"
    monkeypatch.setenv("GLASSNET_WAIT_POLICY", "lazy")
    with pytest.raises(SetupError, match="GLASSNET_WAIT_POLICY='lazy': expected active or passive"):
        threads._Team(1)


def test_without_numba_the_helpers_sleep_between_jobs_and_still_take_part(monkeypatch):
    """The reference kernels can split an inference batch without numba: no compiled waits then."""
    monkeypatch.setattr(threads, "_spin_waits", lambda: (None, 1.0))
    team = threads._Team(1)
    monkeypatch.setitem(threads._teams, "team", team)
    try:
        assert team.spin is None and team.looks == 0
        assert len(_threads_that_ran(2)) == 2
        assert len(_threads_that_ran(2)) == 2  # the sleeping helper is woken for the next job too
    finally:
        team.close()


def _blas_counts():
    from threadpoolctl import threadpool_info  # noqa: PLC0415

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("fails", [False, True])
def test_blas_one_thread_puts_every_blas_on_one_thread_and_restores_its_count(fails):
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    import scipy.linalg.cython_blas  # noqa: F401, PLC0415 - numba's BLAS: loaded, so its count is checked too

    with threadpool_limits(limits=3, user_api="blas"):
        assert set(_blas_counts()) == {3}
        with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
            with threads.blas_one_thread():
                assert set(_blas_counts()) == {1}
                if fails:
                    raise RuntimeError("a layer failed")
        assert set(_blas_counts()) == {3}


def test_openblas_thread_counts_are_read_and_set_by_its_own_functions():
    """The 0.2 us path of blas_one_thread (see _count_functions): fails if threadpoolctl stops offering it."""
    import ctypes  # noqa: PLC0415

    from threadpoolctl import ThreadpoolController  # noqa: PLC0415

    libs = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
            if lib.internal_api == "openblas" and lib.threading_layer == "pthreads"]
    assert libs, "NumPy's wheels bring OpenBLAS on its own threads"
    for lib in libs:
        get_count, set_count = threads._count_functions(lib)
        assert isinstance(get_count, ctypes._CFuncPtr) and isinstance(set_count, ctypes._CFuncPtr)
        assert get_count() == lib.num_threads


def test_blas_one_thread_also_works_in_a_thread_other_than_the_first_that_used_it():
    """threadpoolctl's controllers let only the first thread that set OpenBLAS's count change it again."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    with threads.blas_one_thread():  # this thread uses it first
        pass
    seen = []

    def layer():
        with threads.blas_one_thread():
            seen.extend(_blas_counts())

    with threadpool_limits(limits=2, user_api="blas"):
        worker = threading.Thread(target=layer)
        worker.start()
        worker.join()
        assert seen and set(seen) == {1}
        assert set(_blas_counts()) == {2}
