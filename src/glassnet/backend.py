"""The array backend: which array module (NumPy or CuPy) runs the kernels, and the default dtype.

Kernels never import ``numpy`` to compute: they ask :func:`array_module` for the module that owns
their inputs (Chainer-style), so the same code runs on ``numpy.ndarray`` and ``cupy.ndarray``.
New arrays that have no input to follow (parameters, buffers, data batches) are created on the
*active* backend, chosen with :func:`use`, in the *default dtype* (float32 unless
:func:`set_default_dtype` says otherwise).

This module and :mod:`glassnet.kernels` (kernel choice, threads) hold the only global mutable state
of glassnet; here: the backend choice and the dtype.
"""
from __future__ import annotations

import numpy as np

from .errors import InputError, SetupError

_BACKENDS = ("numpy", "cupy")
_state = {"name": "numpy", "xp": np, "dtype": np.dtype(np.float32)}


def _import_cupy():
    """Import CuPy and check that a GPU answers; raise a clear RuntimeError otherwise."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency, imported only when asked for
    except ImportError as exc:
        raise SetupError(
            "the 'cupy' backend needs CuPy: install it with `pip install glassnet[cuda]` "
            "(or the cupy-cudaXXx wheel that matches your CUDA)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise SetupError(f"CuPy is installed but no CUDA device is usable: {exc}") from exc
    if count == 0:
        raise SetupError("CuPy is installed but no CUDA device was found")
    return cupy


def use(name: str):
    """Make ``name`` ("numpy" or "cupy"; "cpu"/"cuda" are accepted aliases) the active backend."""
    name = {"cpu": "numpy", "cuda": "cupy", "gpu": "cupy"}.get(name, name)
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {_BACKENDS} (or 'cpu'/'cuda')")
    _state["xp"] = np if name == "numpy" else _import_cupy()
    _state["name"] = name
    return _state["xp"]


def name() -> str:
    """Name of the active backend: "numpy" or "cupy"."""
    return _state["name"]


def get_xp():
    """The active array module (``numpy`` or ``cupy``)."""
    return _state["xp"]


def array_module(*arrays):
    """The array module that owns ``arrays``: CuPy if any of them is a CuPy array, else NumPy."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return _state["xp"] if _state["name"] == "cupy" else _import_cupy()
    return np


def set_default_dtype(dtype):
    """Set the dtype new parameters, buffers and data batches are created in (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"default dtype must be float32 or float64, got {dtype}")
    _state["dtype"] = dtype


def get_default_dtype() -> np.dtype:
    """The dtype new parameters and batches are created in (float32 unless changed)."""
    return _state["dtype"]


class default_dtype:
    """Context manager: ``with default_dtype(np.float64): ...`` switches the dtype for a block."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __enter__(self):
        self._previous = get_default_dtype()
        set_default_dtype(self.dtype)
        return self.dtype

    def __exit__(self, *exc):
        set_default_dtype(self._previous)


def asarray(a, dtype=None, xp=None):
    """``a`` as an array of the active backend (or ``xp``), in ``dtype`` (default: the default dtype)."""
    xp = xp or get_xp()
    return xp.asarray(a, dtype=dtype or get_default_dtype())


def to_numpy(a) -> np.ndarray:
    """A host (NumPy) copy of ``a`` whatever backend owns it; NumPy arrays are returned as they are."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):  # cupy.ndarray
        return a.get()
    return np.asarray(a)


def to_device(a, device: str):
    """Move array ``a`` to ``device`` ("cpu" or "cuda"), returning it unchanged if already there."""
    if device in ("cpu", "numpy"):
        return to_numpy(a)
    if device in ("cuda", "gpu", "cupy"):
        cupy = _import_cupy()
        return cupy.asarray(a)
    raise InputError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
