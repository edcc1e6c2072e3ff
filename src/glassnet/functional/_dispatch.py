"""Which implementation runs a kernel: the NumPy reference or the compiled (numba) fast path.

The NumPy code in each kernel file is the reference: it runs on NumPy and CuPy arrays and is what
the docstrings describe. When numba is importable (``pip install glassnet[fast]``), kernels given
NumPy float32/float64 arrays run compiled, multi-threaded versions from ``_numba_kernels`` that
compute the same formulas (tested against PyTorch with the same tolerances).

Choose with the environment variable ``GLASSNET_KERNELS`` (read at import) or :func:`use_kernels`:

- ``auto`` (default): numba when importable, else NumPy;
- ``numpy``: always the NumPy reference;
- ``numba``: the compiled kernels, and an error if numba is missing.

CuPy arrays always take the array-module (NumPy/CuPy) path.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

_CHOICES = ("auto", "numpy", "numba")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_state = {"choice": os.environ.get("GLASSNET_KERNELS", "auto").strip().lower() or "auto", "fast": None}
if _state["choice"] not in _CHOICES:
    raise ValueError(f"GLASSNET_KERNELS={_state['choice']!r}: expected one of {_CHOICES}")


class CompiledCache(tuple):
    """The cache of a compiled forward kernel: its backward twin hands it back to ``_numba_kernels``."""

    __slots__ = ()


def compiled():
    """The compiled-kernel module (for a backward whose forward ran compiled)."""
    return _load_fast()


def numba_module():
    """The numba module, or None if it is not installed."""
    try:
        import numba  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    return numba


def _default_threads():
    env = os.environ.get("GLASSNET_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(n: int):
    """Threads the compiled kernels split their work over (default: GLASSNET_NUM_THREADS or the usable cores).

    BLAS keeps its own setting (OPENBLAS_NUM_THREADS, threadpoolctl) for the products outside the
    convolutions; inside them each thread multiplies its own tiles with a single-threaded BLAS.
    """
    if int(n) < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    _state["threads"] = int(n)


def get_num_threads() -> int:
    """Threads the compiled kernels use (see :func:`set_num_threads`)."""
    if _state.get("threads") is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def _load_fast():
    if _state["fast"] is None:
        if numba_module() is None:
            if _state["choice"] == "numba":
                raise RuntimeError("GLASSNET_KERNELS=numba but numba is not installed: pip install 'glassnet[fast]'")
            _state["fast"] = False
        else:
            from . import _numba_kernels  # noqa: PLC0415

            _state["fast"] = _numba_kernels
    return _state["fast"]


def use_kernels(choice: str):
    """Select the kernels: "auto", "numpy" or "numba" (see the module docstring)."""
    choice = choice.lower()
    if choice not in _CHOICES:
        raise ValueError(f"unknown kernels {choice!r}: expected one of {_CHOICES}")
    _state["choice"] = choice
    if choice == "numba":
        _load_fast()


def kernels() -> str:
    """The current choice: "auto", "numpy" or "numba"."""
    return _state["choice"]


@contextmanager
def kernels_used(choice: str):
    """``with kernels_used("numpy"): ...`` runs a block with the given kernels, then restores the choice."""
    saved = _state["choice"]
    use_kernels(choice)
    try:
        yield
    finally:
        _state["choice"] = saved


def fast(*arrays):
    """The compiled-kernel module if it should run on ``arrays``, else None.

    True when the choice is not "numpy", numba is importable and every array is a NumPy array of
    float32 or float64 (all the same dtype).
    """
    if _state["choice"] == "numpy":
        return None
    dtype = None
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype not in _FLOATS or (dtype is not None and a.dtype != dtype):
            return None
        dtype = a.dtype
    mod = _load_fast()
    return mod or None


def describe() -> str:
    """One line naming the kernels that NumPy arrays get now."""
    if _state["choice"] == "numpy":
        return "numpy (reference; GLASSNET_KERNELS=numpy)"
    mod = _load_fast()
    if not mod:
        return "numpy (reference; numba not installed)"
    numba = numba_module()
    return (f"numba {numba.__version__} (compiled, {get_num_threads()} threads in glassnet's pool; "
            f"GLASSNET_KERNELS={_state['choice']})")
