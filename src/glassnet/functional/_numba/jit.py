"""How glassnet's kernels are compiled: ``@kernel`` is numba's ``njit(cache=True, nogil=True)``
(machine code cached on disk; the GIL released while a kernel runs), with that cache kept in step
with the sources of every kernel file.

numba checks a cached function against the source of that function's own file only. A kernel that
calls a kernel of another file - the inference plan's fused steps call the convolution's gathers,
the convolution calls Winograd's transforms - would keep the callee's old code from the cache after
only the callee's file was edited: in a library people read and change, an edit that seems to do
nothing on some paths. So when a kernel file's kernels are defined (the first time it is imported
in a process), :func:`is_stale` compares a fingerprint of all kernel files (``SOURCES``) with the
one recorded for that file in the cache folder (``STAMPS``); if they differ, each of the file's
kernels has its cache emptied before anything could load it, so it is compiled once from the
current sources (seconds, only after an edit, and once in each cache folder after an upgrade).
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]
"""The ``glassnet`` package folder."""

SOURCES = ("functional/_numba/activation.py", "functional/_numba/conv.py", "functional/_numba/norm.py",
           "functional/_numba/pool.py", "functional/_numba/spin.py", "functional/_numba/winograd.py",
           "functional/_numba/winograd1d.py",
           "inference/_compiled.py", "optim/_numba.py")
"""Every file of ``PACKAGE`` that defines ``@kernel`` functions (tested)."""

STAMPS = "glassnet-kernel-sources.json"
"""The file, in each cache folder numba uses, that records for each kernel module the fingerprint of
``SOURCES`` its cached kernels were last checked against."""

_checked = {}
"""(module name, cache folder) -> whether that module's cached kernels are emptied in this process."""


@functools.lru_cache(maxsize=1)
def fingerprint():
    """sha256 (hex) of the contents of ``SOURCES``, in order (read once per process)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((PACKAGE / name).read_bytes())
    return digest.hexdigest()


def is_stale(module, cache_path):
    """Whether the kernels of ``module`` cached in the folder ``cache_path`` may hold code older than
    some kernel file: the fingerprint of ``SOURCES`` differs from the one recorded there for
    ``module``, which is then recorded (atomically). Decided once per process and folder; False
    where the sources or the record cannot be read or written."""
    key = (module, cache_path)
    if key not in _checked:
        _checked[key] = _check(module, Path(cache_path) / STAMPS)
    return _checked[key]


def _check(module, path):
    try:
        current = fingerprint()
        try:
            recorded = json.loads(path.read_text())
        except (OSError, ValueError):
            recorded = {}  # nothing recorded yet, or unreadable
        if recorded.get(module) == current:
            return False
        from ...io.atomic import write_text  # noqa: PLC0415 - only after an edit (or a first run)

        write_text(path, json.dumps({**recorded, module: current}, sort_keys=True))
    except OSError:
        return False
    return True


def kernel(fn=None, **options):
    """``numba.njit(fn, cache=True, nogil=True, **options)``, as ``@kernel`` or ``@kernel(fastmath=...)``;
    its on-disk cache emptied first where :func:`is_stale` says so for ``fn``'s module. With
    ``NUMBA_DISABLE_JIT=1`` numba returns ``fn`` itself, so the kernels run as Python (slowly: to
    step through one in a debugger)."""
    if fn is None:
        return functools.partial(kernel, **options)
    from numba import njit  # noqa: PLC0415 - importing this module does not import numba

    dispatcher = njit(cache=True, nogil=True, **options)(fn)
    if not hasattr(dispatcher, "_cache"):  # NUMBA_DISABLE_JIT=1: fn itself, run by Python (no cache)
        return dispatcher
    if is_stale(fn.__module__, dispatcher._cache.cache_path):
        try:
            dispatcher._cache.flush()  # an empty index: compiled from the current sources on first use
        except OSError:
            pass  # a cache that cannot be written cannot be emptied either
    return dispatcher
