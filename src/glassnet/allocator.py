"""glibc's malloc told to keep freed memory for the next training step (Linux; set when glassnet is imported).

A training step allocates and frees the same large arrays every time (activations, gradients,
column tiles). With glibc's default settings the arrays above its *mmap threshold* get fresh
pages from the kernel, and once more than its *trim threshold* lies free at the top of the heap it
is handed back to the kernel; either way the next step touches new pages, and every 4 KiB page
costs a page fault (about 3 us on the virtual machine of BENCHMARKS.md). Measured there, one
thread, default -> kept: LeNet-5 at batch 64, 1265 faults and 8.8 ms per step -> 0 and 5.7 ms;
at batch 256, 2474 faults, 29.5 ms -> 0, 22.4 ms; the CIFAR net 4072 faults, 344 -> 337 ms.

:func:`keep_freed_memory` sets

    M_MMAP_THRESHOLD = 32 MiB    arrays up to this size come from the heap (glibc's largest value)
    M_TRIM_THRESHOLD = 256 MiB   freed heap memory up to this size is kept for reuse

so a steady training loop reuses its memory. The cost: the process keeps up to 256 MiB of memory
it has freed instead of returning it to the system. It is process-wide (PyTorch in the same
process gets it too, which ``glassnet bench`` notes). Not applied when ``GLASSNET_MALLOC=system``,
when the environment already tunes malloc (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``GLIBC_TUNABLES`` with ``glibc.malloc``), or where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

_state = {"applied": False}


def _user_tunes_malloc() -> bool:
    env = os.environ
    return (env.get("GLASSNET_MALLOC", "").strip().lower() == "system"
            or "MALLOC_MMAP_THRESHOLD_" in env or "MALLOC_TRIM_THRESHOLD_" in env
            or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""))


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a GNU system
        return False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring); True if they are set now."""
    if _state["applied"]:
        return True
    if not _glibc() or _user_tunes_malloc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _state["applied"] = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _state["applied"]


def kept() -> bool:
    """Whether :func:`keep_freed_memory` has set the thresholds in this process."""
    return _state["applied"]
