"""Child process of the memory benchmark: ``python -m glassnet.bench.memory WORKLOAD SIDE THREADS [BATCH]``.

Prints one JSON line {"peak_bytes": ..., "method": ...}: the resident memory a few steps of one
side (glassnet or torch) needed above what the process held before them. See
:mod:`glassnet.bench.measure` for the method.
"""
from __future__ import annotations

import gc
import json
import resource
import sys


def _status_kb(field):
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak():
    """Reset the kernel's high-water mark of this process's RSS (Linux >= 4.0); True on success."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(workload_name, side, threads, batch=None, steps=3):
    from .measure import set_threads  # noqa: PLC0415
    from .workloads import WORKLOADS, glassnet_step, import_torch, torch_step, torch_twin  # noqa: PLC0415

    workload = WORKLOADS[workload_name]
    if batch:
        from dataclasses import replace  # noqa: PLC0415

        workload = replace(workload, batch=int(batch))
    torch = import_torch() if side == "torch" else None
    set_threads(threads, torch)

    def make_step(x, y):
        model = workload.build()
        if side == "torch":
            return torch_step(torch, torch_twin(model), workload, x, y)
        return glassnet_step(model, workload, x, y)

    # warm-up on a tiny batch: JIT compilation, kernel caches, lazy library initialisation
    make_step(*workload.batch_data(batch=2))()
    x, y = workload.batch_data()
    step = make_step(x, y)
    gc.collect()
    before_rss = _status_kb("VmRSS")
    if before_rss is not None and _reset_peak():
        for _ in range(steps):
            step()
        peak = _status_kb("VmHWM")
        return {"peak_bytes": max(0, peak - before_rss) * 1024, "method": "VmHWM after clear_refs - VmRSS before"}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(steps):
        step()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    return {"peak_bytes": max(0, after - before) * scale, "method": "ru_maxrss delta"}


if __name__ == "__main__":
    args = sys.argv[1:]
    result = measure(args[0], args[1], int(args[2]), int(args[3]) if len(args) > 3 else None)
    print(json.dumps(result))
