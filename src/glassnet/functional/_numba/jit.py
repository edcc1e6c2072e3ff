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

On Intel CPUs with AVX-512, LLVM by default keeps loops to 256-bit vectors (its "prefer-256-bit"
tuning, from when 512-bit instructions lowered the clock); :func:`prefer_full_vectors` lifts that
for numba's CPU target before any kernel is defined, so the loops use the full 512-bit registers
(measured on a Sapphire Rapids-class vCPU, one thread: a 16-channel 3x3 convolution on 32x32 maps,
batch 128, forward 10.6 -> 6.5 ms, backward 22.8 -> 17.1 ms). AMD's Zen 4 and AVX2-only CPUs have
no such preference, so nothing changes there.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]
"""The ``glassnet`` package folder."""

SOURCES = ("functional/_numba/activation.py", "functional/_numba/add.py", "functional/_numba/conv.py",
           "functional/_numba/kernel_rows.py", "functional/_numba/norm.py", "functional/_numba/pool.py",
           "functional/_numba/spin.py", "functional/_numba/winograd.py", "functional/_numba/winograd1d.py",
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


FULL_VECTORS = "-prefer-256-bit"
"""The LLVM target feature, added to the host's features, that lifts the 256-bit preference."""


def prefer_full_vectors():
    """Give numba's CPU target the host's features plus :data:`FULL_VECTORS` on a CPU with AVX-512;
    returns whether it did. Left alone - numba then compiles as it would by itself - when the user
    chose the target (``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES``), when
    ``GLASSNET_VECTOR_PREFERENCE=llvm`` asks for LLVM's own choice, and when numba's CPU target
    already exists in this process (code compiled before glassnet's kernels were defined fixed its
    features). Only the vector width LLVM prefers changes, never the instructions the CPU must have,
    and numba's cache keeps code compiled for each feature set apart."""
    from numba.core import config, registry  # noqa: PLC0415

    if (os.environ.get("GLASSNET_VECTOR_PREFERENCE", "").strip().lower() == "llvm"
            or config.CPU_NAME is not None or config.CPU_FEATURES is not None
            or "_toplevel_target_context" in vars(registry.cpu_target)):
        return False
    import llvmlite.binding as llvm  # noqa: PLC0415

    features = llvm.get_host_cpu_features()
    if not features.get("avx512f", False):
        return False
    config.CPU_FEATURES = f"{features.flatten()},{FULL_VECTORS}"
    return True


REORDERED_SUMS = dict(fastmath={"reassoc"})
"""``@kernel(**REORDERED_SUMS)``: the kernel's sums may be reordered (and so vectorised), always the
same way for a given shape: one pass of float32 values summed in float64 went from 0.75 to 0.15 ns
per value (batch norm's backward sums on 1M values: 0.74 -> 0.2 ms). Only reassociation: no FMA
contraction, NaN and infinity kept."""


def kernel(fn=None, **options):
    """``numba.njit(fn, cache=True, nogil=True, **options)``, as ``@kernel`` or ``@kernel(fastmath=...)``;
    its on-disk cache emptied first where :func:`is_stale` says so for ``fn``'s module. With
    ``NUMBA_DISABLE_JIT=1`` numba returns ``fn`` itself, so the kernels run as Python (slowly: to
    step through one in a debugger)."""
    if fn is None:
        return functools.partial(kernel, **options)
    from numba import njit  # noqa: PLC0415

    dispatcher = njit(cache=True, nogil=True, **options)(fn)
    if not hasattr(dispatcher, "_cache"):  # NUMBA_DISABLE_JIT=1: fn itself, run by Python (no cache)
        return dispatcher
    if is_stale(fn.__module__, dispatcher._cache.cache_path):
        try:
            dispatcher._cache.flush()  # an empty index: compiled from the current sources on first use
        except OSError:
            pass  # a cache that cannot be written cannot be emptied either
    return dispatcher


def describe_target():
    """One line naming the CPU numba compiles the kernels for and the vector width it prefers."""
    from numba.core import registry  # noqa: PLC0415

    _, cpu, features = registry.cpu_target.target_context.codegen().magic_tuple()
    width = ("512-bit vectors (LLVM's 256-bit preference lifted; GLASSNET_VECTOR_PREFERENCE=llvm keeps it)"
             if FULL_VECTORS in features.split(",") else "LLVM's preferred vector width")
    return f"{cpu}, {width}"


VECTORS_CHOSEN = prefer_full_vectors()
"""Whether :func:`prefer_full_vectors` set numba's target: done when this module is first imported,
which every kernel module does before it defines a kernel (or numba's ``inline`` helpers)."""
