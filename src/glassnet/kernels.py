"""Which kernels run on NumPy arrays, and on how many threads.

The NumPy code in each file of :mod:`glassnet.functional` is the reference: it runs on NumPy and
CuPy arrays and is what the docstrings describe. Its compiled twins (numba, in
``glassnet/functional/_numba/``, one file per reference file with the same function names) compute
the same formulas faster; they run on NumPy float32/float64 arrays of one dtype. The optimizers'
updates have compiled twins too (``glassnet/optim/_numba.py``: the same arithmetic in one pass,
equal bit for bit). Choose with
:func:`use` (or the environment variable ``GLASSNET_KERNELS``, read at import):

- ``"auto"`` (default): the compiled twins when numba is importable, else the NumPy reference;
- ``"numpy"``: always the NumPy reference;
- ``"numba"``: the compiled twins, and an error if numba is missing.

CuPy arrays always take the reference (array-module) path.

The compiled kernels split their work between ``get_num_threads()`` threads of glassnet's own pool
(default: ``GLASSNET_NUM_THREADS``, else the usable cores shared out between the processes an MPI
launcher started on this machine), set with :func:`set_num_threads`. Between layers the pool's
threads wait spinning for 2 ms before they sleep; ``GLASSNET_WAIT_POLICY=passive`` makes them sleep at
once (like ``OMP_WAIT_POLICY``).
:func:`using` sets either for one block and puts both back afterwards::

    with kernels.using("numpy"):            # the reference kernels for this block
        ...
    with kernels.using(threads=1):          # one thread for this block
        ...

State rule. This module and :mod:`glassnet.backend` hold glassnet's only global mutable state.
Results never depend on the machine's core count: the thread count only decides which thread
computes which share of a kernel's work, and every sum that crosses shares (the convolution's
weight gradient) is split into parts fixed by the problem's shape and added in the same order for
any number of threads (see ``functional/_numba/threads.py``). Code that records numbers
(experiments, tests) still pins the thread count with :func:`using` so that a run is also
independent of what the caller set.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

from ._launcher import launched_here
from .errors import SetupError

CHOICES = ("auto", "numpy", "numba")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _default_threads():
    env = os.environ.get("GLASSNET_NUM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise SetupError(f"GLASSNET_NUM_THREADS={env!r}: expected a whole number of threads >= 1")
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    # Ranks an MPI launcher started on this machine share its cores (as torchrun gives each of its
    # processes one OpenMP thread), so that pool threads, which wait for the next layer spinning
    # (functional/_numba/threads.py), do not outnumber the cores.
    return max(1, cores // launched_here())


def _checked(choice):
    choice = str(choice).strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"unknown kernels {choice!r}: expected one of {CHOICES}")
    return choice


_state = {"choice": None, "threads": None, "numba": None}  # None: not read yet (GLASSNET_KERNELS, at first use)


def _choice() -> str:
    """The current choice; the first call reads GLASSNET_KERNELS (a bad value is a SetupError naming it,
    raised where kernels are first needed, not while glassnet is imported)."""
    if _state["choice"] is None:
        env = os.environ.get("GLASSNET_KERNELS", "").strip() or "auto"
        try:
            _state["choice"] = _checked(env)
        except ValueError:
            raise SetupError(f"GLASSNET_KERNELS={env!r}: expected one of {', '.join(CHOICES)}") from None
    return _state["choice"]


def numba_available() -> bool:
    """True when numba can be imported (the compiled twins can run)."""
    if _state["numba"] is None:
        try:
            import numba  # noqa: F401, PLC0415 - imported only when the compiled kernels are wanted
        except ImportError:
            _state["numba"] = False
        else:
            _state["numba"] = True
    return _state["numba"]


def use(choice: str):
    """Select the kernels for NumPy arrays: "auto", "numpy" or "numba" (see the module docstring)."""
    choice = _checked(choice)
    if choice == "numba" and not numba_available():
        raise SetupError("kernels 'numba' need numba: pip install numba")
    _state["choice"] = choice


def current() -> str:
    """The current choice: "auto", "numpy" or "numba"."""
    return _choice()


def set_num_threads(n: int):
    """Threads the compiled kernels split their work over (the calling thread included).

    BLAS keeps its own setting (OPENBLAS_NUM_THREADS, threadpoolctl) for the products outside the
    convolutions; inside them each thread multiplies its own tiles with a single-threaded BLAS.
    """
    if int(n) < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    _state["threads"] = int(n)


def get_num_threads() -> int:
    """Threads the compiled kernels use (see :func:`set_num_threads`)."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


@contextmanager
def using(choice: str | None = None, *, threads: int | None = None):
    """Run a block with the given kernels and/or thread count, then restore both as they were."""
    saved = _choice(), get_num_threads()
    try:
        if choice is not None:
            use(choice)
        if threads is not None:
            set_num_threads(threads)
        yield
    finally:
        _state["choice"], _state["threads"] = saved


def compiled_for(*arrays) -> bool:
    """Whether the compiled twins run on ``arrays``: the choice is not "numpy", numba is importable
    and every array is a NumPy array of float32 or float64, all of one dtype."""
    if _choice() == "numpy":
        return False
    dtype = None
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype not in _FLOATS or (dtype is not None and a.dtype != dtype):
            return False
        dtype = a.dtype
    if not numba_available():
        if _state["choice"] == "numba":
            raise SetupError("kernels 'numba' (GLASSNET_KERNELS or kernels.use) need numba: pip install numba")
        return False
    return True


def describe() -> str:
    """One line naming the kernels that NumPy arrays get now."""
    if _choice() == "numpy":
        return "numpy (reference; kernels.use('numpy') or GLASSNET_KERNELS=numpy)"
    if not numba_available():
        return "numpy (reference; numba not installed)"
    import numba  # noqa: PLC0415

    return (f"numba {numba.__version__} (compiled, {get_num_threads()} threads in glassnet's pool; "
            f"kernels {_state['choice']!r})")
