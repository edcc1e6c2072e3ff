"""Measurements: threads, machine facts, the sgemm peak, interleaved step timings, per-layer profiles
and the peak memory of a step (in a fresh subprocess per side).

Timing method: after ``warmup`` steps on each side, ``steps`` rounds run one glassnet step and one
PyTorch step back to back, alternating which goes first, with the garbage collector paused. Both
sides see the same load on the (possibly shared) machine, so the per-round ratio
``t_torch / t_glassnet`` is steadier than either time; we report its median and quartiles. With
several threads each timed step follows untimed steps of the same side for at least ``settle``
seconds, so that the other side's spinning threads have gone quiet (see :func:`time_interleaved`).

Memory method: ``peak_step_memory`` starts ``python -m glassnet.bench.memory`` for one side only (so
neither side's libraries, caches or arrays count for the other), builds the model and batch, runs
one step on a batch of 2 (JIT compilation, oneDNN kernel creation), resets the kernel's resident-set
high-water mark (``/proc/self/clear_refs``; ``ru_maxrss`` where that is unavailable), runs 3 full
steps and reports ``VmHWM - VmRSS(before)``: the extra resident memory the steps needed at their peak.
"""
from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import threading
import time

import numpy as np

from .. import allocator, kernels


# ------------------------------------------------------------------------------------------ threads
def set_threads(threads, torch=None):
    """Use ``threads`` threads everywhere: PyTorch (intra-op), every loaded BLAS (threadpoolctl: NumPy's
    and SciPy's, which the compiled kernels' products call; loaded first so the limit reaches it),
    glassnet's compiled kernels (``glassnet.kernels.set_num_threads``).

    Returns a list of warnings (e.g. threadpoolctl missing, so BLAS keeps its own count).
    """
    notes = []
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional
    except ImportError:
        notes.append("threadpoolctl is not installed: NumPy's BLAS keeps its default thread count "
                      "(set OPENBLAS_NUM_THREADS to control it)")
    else:
        try:  # the BLAS of numba's np.dot; unlimited, glassnet's kernels would set it to one thread
            import scipy.linalg.cython_blas  # noqa: F401, PLC0415 - and back at every product
        except ImportError:
            pass
        threadpool_limits(limits=threads, user_api="blas")
    kernels.set_num_threads(threads)
    return notes


def default_threads():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------------------ machine
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    """threadpoolctl's description of the loaded BLAS / OpenMP libraries (empty if unavailable)."""
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture", "threading_layer")
    return [{k: lib.get(k) for k in keys if lib.get(k) is not None} for lib in threadpool_info()]


def machine_info(torch=None):
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": default_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "glassnet_kernels": kernels.describe(),
        "blas": blas_info(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                                "OMP_NUM_THREADS", "GLASSNET_KERNELS")},
    }
    if kernels.numba_available():
        from ..functional._numba import jit  # noqa: PLC0415 - imports numba

        info["numba_target"] = jit.describe_target()
    info["malloc_kept"] = allocator.kept()
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    if torch is not None:
        info["torch"] = torch.__version__
    return info


def core_round_trip(rounds=4000, repeats=5):
    """Nanoseconds for a value written on one core to reach another and come back (median of
    ``repeats`` runs of ``rounds`` round trips): two threads pass a turn back and forth through one
    int64 flag on a cache line of its own, in compiled code without the GIL
    (``functional._numba.spin.pass_turn``). None where it cannot be measured: fewer than two usable
    cores, no compiled kernels, or a thread that stopped answering.

    Every layer that threads share hands data from core to core, so two-thread timings depend on
    this. On the two-vCPU machine of BENCHMARKS.md it reads about 70 ns most of the time and
    300-350 ns for stretches of seconds to minutes (the host then runs the two vCPUs on distant
    cores): a 1 MB array written by one thread takes ~2.5x as long to read on the other, and
    two-thread training steps slow down, glassnet's more than PyTorch's (BENCHMARKS.md, eleventh pass).
    """
    if default_threads() < 2:
        return None
    try:
        from ..functional._numba import spin  # noqa: PLC0415 - needs numba
    except ImportError:
        return None
    buf = np.zeros(24, dtype=np.int64)  # three cache lines: the flag gets the middle one to itself
    start = (-buf.ctypes.data % 64) // 8 + 8
    flag = buf[start:start + 1]
    looks, warm = 1 << 22, 64  # a player gives up after ~0.1 s without an answer
    spin.pass_turn(flag, 0, 0, 1)  # compiled or loaded from the cache before any timing
    times = []
    for _ in range(repeats):
        flag[0] = 0
        played = []
        other = threading.Thread(target=lambda: played.append(spin.pass_turn(flag, 1, warm + rounds, looks)))
        other.start()
        ok = spin.pass_turn(flag, 0, warm, looks) == warm  # both threads running from here on
        t0 = time.perf_counter()
        ok = ok and spin.pass_turn(flag, 0, rounds, looks) == rounds
        elapsed = time.perf_counter() - t0
        other.join()
        if not ok or played != [warm + rounds]:
            return None
        times.append(elapsed / rounds * 1e9)
    return float(np.median(times))


def sgemm_peak(torch=None, n=2048, repeats=5, clock="wall"):
    """Best GFLOP/s of an n x n x n float32 matrix product: NumPy's BLAS and (if given) PyTorch's."""
    now = CLOCKS[clock]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    flops = 2.0 * n**3
    result = {}

    def best(fn):
        fn()
        times = []
        for _ in range(repeats):
            t0 = now()
            fn()
            times.append(now() - t0)
        return flops / min(times) / 1e9

    result["numpy"] = best(lambda: np.matmul(a, b, out=out))
    if torch is not None:
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        result["torch"] = best(lambda: torch.matmul(ta, tb, out=tout))
    result["peak"] = max(result.values())
    result["n"], result["repeats"] = n, repeats
    return result


# ------------------------------------------------------------------------------------------ timing
def summarize(times):
    """Median, quartiles, min and max of a list of seconds (or ratios)."""
    a = np.asarray(times, dtype=np.float64)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""wall: elapsed time (what a user waits for). cpu: CPU seconds used by all threads of this process,
which leaves out the time other processes hold the cores - with 1 thread per side it is the robust
measure on a shared machine; with more threads it adds the threads' times (spin-waits included)."""


def time_interleaved(*fns, steps, warmup, clock="wall", settle=0.0):
    """Run ``warmup`` calls of each function, then ``steps`` rounds of one timed call each, the order
    rotating from round to round (with two: alternating which goes first). With ``settle`` > 0 each
    timed call follows untimed calls of the same function, at least one and for at least ``settle``
    seconds (wall clock): a library whose threads spin after its step (PyTorch's OpenMP workers
    ~10 ms, onnxruntime's pool up to ~80 ms beside glassnet's spinning helpers) then no longer takes
    the cores from the next side's timed step. (Measured at 2 threads: glassnet's MLP step 13.9 ms
    right after a PyTorch step, 9.2 ms after one of its own; its LeNet-5 inference at batch 256
    5.9-6.1 ms after one of its own that followed an onnxruntime run, 3.3-3.9 ms with onnxruntime
    not spinning; onnxruntime used 40 ms of CPU in the 50 ms after a run and none in the 250 ms
    after that. The other sides' times do not change.)

    Returns one list of times per function (seconds of ``clock``, see CLOCKS); the garbage
    collector is paused.
    """
    now = CLOCKS[clock]
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(steps):
            for k in range(len(fns)):
                j = (i + k) % len(fns)
                if settle > 0:
                    quiet = time.perf_counter() + settle
                    fns[j]()
                    while time.perf_counter() < quiet:
                        fns[j]()
                t0 = now()
                fns[j]()
                times[j].append(now() - t0)
    finally:
        if was_enabled:
            gc.enable()
    return times


# ------------------------------------------------------------------------------------------ profile
def profile_glassnet(model, workload, x, y, repeats, clock="wall"):
    """Median seconds of each layer's forward and backward (and of the loss and the SGD step); for an
    inference workload, of each step of its InferencePlan (several layers fused into one)."""
    now = CLOCKS[clock]
    from .. import nn  # noqa: PLC0415
    from ..optim import SGD  # noqa: PLC0415
    from .workloads import LR, MOMENTUM  # noqa: PLC0415

    if not workload.train:  # the inference side runs an InferencePlan: time its fused steps
        from ..inference import InferencePlan  # noqa: PLC0415

        return [(name, t, None) for name, t in InferencePlan(model.eval()).profile(x, repeats, now)]
    layers = list(model)
    fwd = [[] for _ in layers]
    bwd = [[] for _ in layers]
    extra = {"loss": [], "optimizer": []}
    opt = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    model.train(workload.train)
    first = _first_with_parameters([layer.num_parameters() > 0 for layer in layers])
    for _ in range(repeats + 1):
        h = x
        for i, layer in enumerate(layers):
            t0 = now()
            h = layer.forward(h)
            fwd[i].append(now() - t0)
        if not workload.train:
            continue
        t0 = now()
        _, d = loss_fn(h, y)
        extra["loss"].append(now() - t0)
        for i in reversed(range(len(layers))):
            t0 = now()
            if i == first and layers[i].can_skip_input_grad:  # as in a step (and PyTorch): nothing needs its dx
                layers[i].backward(d, need_input_grad=False)
            elif i > first:
                d = layers[i].backward(d)
            bwd[i].append(now() - t0)
        t0 = now()
        opt.step()
        opt.zero_grad()
        extra["optimizer"].append(now() - t0)
    med = lambda ts: float(np.median(ts[1:])) if len(ts) > 1 else float("nan")  # noqa: E731 - drop the first
    rows = [(f"{i} {type(layer).__name__}", med(fwd[i]), med(bwd[i]) if workload.train else None)
            for i, layer in enumerate(layers)]
    if workload.train:
        rows += [("loss", med(extra["loss"]), None), ("optimizer step", med(extra["optimizer"]), None)]
    return rows


def _first_with_parameters(has_parameters):
    """Index of the first layer with parameters (``has_parameters``: a bool per layer; their number if
    none): no gradient flows into it or the layers before it in a training step
    (``Sequential.backward(..., need_input_grad=False)``, PyTorch's autograd)."""
    return next((i for i, has in enumerate(has_parameters) if has), len(has_parameters))


def profile_torch(torch, twins, workload, x, y, repeats, clock="wall"):
    """The same table for the PyTorch twin: each layer run on a detached input that requires grad,
    its backward timed with ``out.backward(grad)`` (no input up to the first layer with parameters
    needs a gradient, as in a step)."""
    from .workloads import LR, MOMENTUM  # noqa: PLC0415

    now = CLOCKS[clock]
    model = torch.nn.Sequential(*twins).train(workload.train)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(np.asarray(y, dtype=np.int64))
    fwd = [[] for _ in twins]
    bwd = [[] for _ in twins]
    extra = {"loss": [], "optimizer": []}
    first = _first_with_parameters([any(True for _ in layer.parameters()) for layer in twins])
    for _ in range(repeats + 1):
        if not workload.train:
            with torch.inference_mode():
                h = tx
                for i, layer in enumerate(twins):
                    t0 = now()
                    h = layer(h)
                    fwd[i].append(now() - t0)
            continue
        inputs, outputs = [], []
        h = tx
        for i, layer in enumerate(twins):
            inp = h.detach().requires_grad_(i > first)
            t0 = now()
            h = layer(inp)
            fwd[i].append(now() - t0)
            inputs.append(inp)
            outputs.append(h)
        logits = outputs[-1].detach().requires_grad_(True)
        t0 = now()
        loss = loss_fn(logits, ty)
        loss.backward()
        extra["loss"].append(now() - t0)
        grad = logits.grad
        for i in reversed(range(len(twins))):
            t0 = now()
            if outputs[i].requires_grad:  # not so for a first Flatten: nothing before it needs a gradient
                outputs[i].backward(grad)
            bwd[i].append(now() - t0)
            grad = inputs[i].grad
        t0 = now()
        opt.step()
        opt.zero_grad(set_to_none=False)
        extra["optimizer"].append(now() - t0)
    med = lambda ts: float(np.median(ts[1:])) if len(ts) > 1 else float("nan")  # noqa: E731
    rows = [(f"{i} {type(layer).__name__}", med(fwd[i]), med(bwd[i]) if workload.train else None)
            for i, layer in enumerate(twins)]
    if workload.train:
        rows += [("loss", med(extra["loss"]), None), ("optimizer step", med(extra["optimizer"]), None)]
    return rows


# ------------------------------------------------------------------------------------------ memory
def peak_step_memory(workload_name, side, threads, batch=None, timeout=600):
    """Extra resident memory (bytes) at the peak of 3 steps of one side, measured in a subprocess.

    Returns a dict {"peak_bytes": int, "method": str} or {"error": str}.
    """
    cmd = [sys.executable, "-m", "glassnet.bench.memory", workload_name, side, str(threads)]
    if batch:
        cmd.append(str(batch))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {done.returncode}: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])
