"""Data-parallel training over MPI on this machine: throughput and communication share for 1, 2 and 4
ranks, and Allreduce bandwidth against buffer size.

    python benchmarks/mpi_bench.py                 # print the markdown tables
    python benchmarks/mpi_bench.py   # prints the markdown table kept in BENCHMARKS.md

The driver starts ``mpirun -n K --oversubscribe --allow-run-as-root python benchmarks/mpi_bench.py
--worker ...`` for each K, one BLAS thread per rank (OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1), so
K ranks use K cores. Training steps are the Solver's own ``_step`` (forward, loss, backward, the one
gradient Allreduce, optimizer step) on this rank's shard of a fixed global batch (strong scaling),
data loading included, after warm-up steps. "comm" is the time inside the gradient Allreduce,
which includes waiting for the slowest rank.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
THREADS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               # a waiting rank gives its core back instead of spinning: fair on a shared machine
               "OMPI_MCA_mpi_yield_when_idle": "1"}
MODELS = {  # name: (zoo builder, input shape, global batch)
    "two_layer_net": ("two_layer_net", (1, 28, 28), 256),
    "classic_cnn": ("classic_cnn", (1, 28, 28), 64),
}


# ------------------------------------------------------------------ workers (run under mpirun)
def worker_train(model_name, steps, warmup, out):
    from glassnet import backend
    from glassnet.data import ArrayDataset
    from glassnet.distributed import DataParallel, ShardedLoader, init
    from glassnet.models import build_model
    from glassnet.optim import SGD
    from glassnet.train import Solver

    comm = init(require_mpi=True)
    builder, shape, batch = MODELS[model_name]
    rng = np.random.default_rng(0)
    n = batch * (steps + warmup)
    data = ArrayDataset(rng.normal(size=(n, *shape)).astype(np.float32), rng.integers(0, 10, n))
    with backend.default_dtype(np.float32):
        model = build_model(builder, shape, 10, seed=0, **({"dropout": 0.0} if builder != "two_layer_net" else {}))
        parallel = DataParallel(model, comm)
        loader = ShardedLoader(data, batch, comm=comm, seed=0)
        solver = Solver(model, loader, SGD(model.parameters(), lr=0.01, momentum=0.9), progress=False,
                        train_eval_samples=0, parallel=parallel)
        batches = iter(loader)
        for _ in range(warmup):
            solver._step(*next(batches))
        # split the Allreduce's time into waiting for the slowest rank (a barrier first) and the reduction
        reduce, waited = comm.allreduce_, [0.0]

        def allreduce_after_barrier(a):
            t = time.perf_counter()
            comm.barrier()
            waited[0] += time.perf_counter() - t
            return reduce(a)

        comm.allreduce_ = allreduce_after_barrier
        comm.barrier()
        comm.seconds, start = 0.0, time.perf_counter()
        for _ in range(steps):
            solver._step(*next(batches))
        total = time.perf_counter() - start
    results = comm.allgather({"total": total, "comm": comm.seconds, "wait": waited[0]})
    if comm.is_main:
        step = max(r["total"] for r in results) / steps
        share = float(np.mean([(r["comm"] + r["wait"]) / r["total"] for r in results]))
        Path(out).write_text(json.dumps({
            "model": model_name, "ranks": comm.size, "batch": batch, "params": model.num_parameters(),
            "step_ms": 1e3 * step, "images_per_s": batch / step, "comm_share": share,
            "comm_ms": 1e3 * float(np.mean([r["comm"] for r in results])) / steps,
            "wait_ms": 1e3 * float(np.mean([r["wait"] for r in results])) / steps,
        }))


def worker_allreduce(out, max_mib):
    from glassnet.distributed import init

    comm = init(require_mpi=True)
    rows = []
    nbytes = 1024
    while nbytes <= max_mib * 2**20:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        for _ in range(3):
            comm.allreduce_(buf)
        reps = max(5, min(500, int(2e8 // nbytes)))  # ~200 MB moved per size, 5..500 calls
        comm.barrier()
        start = time.perf_counter()
        for _ in range(reps):
            comm.allreduce_(buf)
        seconds = max(comm.allgather((time.perf_counter() - start) / reps))
        algbw = nbytes / seconds / 1e9
        rows.append({"bytes": nbytes, "us": 1e6 * seconds, "algbw": algbw,
                     "busbw": algbw * 2 * (comm.size - 1) / comm.size})
        nbytes *= 4
    if comm.is_main:
        Path(out).write_text(json.dumps({"ranks": comm.size, "rows": rows}))


# ------------------------------------------------------------------ driver
def mpirun(ranks, *args, timeout=900):
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [shutil.which("mpirun") or "mpirun", "-n", str(ranks), "--oversubscribe", "--allow-run-as-root",
           "--bind-to", "none", sys.executable, str(HERE), "--worker", *args, "--out", str(out)]
    proc = subprocess.run(cmd, env={**os.environ, **THREADS_ENV}, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(out.read_text())
    out.unlink()
    return result


def _size(nbytes):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024:
            return f"{nbytes:g} {unit}"
        nbytes /= 1024
    return f"{nbytes:g} TiB"


def report(train, allreduce, command) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Data-parallel training over MPI (`glassnet.distributed`)", "",
        f"Command: `{command}`", "",
        f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, NumPy {np.__version__}, one BLAS thread per rank, "
        f"Open MPI shared-memory transport, `mpi_yield_when_idle=1`; load average {load:.1f} "
        "when the table was written "
        "(the machine is shared: ranks beyond the free cores time-share them).", "",
        "Strong scaling: the global batch is fixed and split across the ranks; one step = forward, loss, "
        "backward, one gradient Allreduce, SGD update, data loading included. *wait* is the time the ranks "
        "spend waiting for the slowest one before the Allreduce (measured with a barrier in front of it), "
        "*allreduce* the reduction itself; *comm share* = (wait + allreduce) / step.", "",
        "| model | params | global batch | ranks | step (ms) | images/s | speed-up | wait (ms) | allreduce (ms) "
        "| comm share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in train:
        base = next(b for b in train if b["model"] == r["model"] and b["ranks"] == 1)
        lines.append(f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['ranks']} | {r['step_ms']:.1f} | "
                     f"{r['images_per_s']:.0f} | {r['images_per_s'] / base['images_per_s']:.2f}x | "
                     f"{r['wait_ms']:.2f} | {r['comm_ms']:.2f} | {100 * r['comm_share']:.1f}% |")
    lines += ["", "Allreduce (sum, float32, in place) against buffer size. *algbw* = bytes / time; "
              "*busbw* = algbw x 2(K-1)/K, the traffic each rank's link carries in a ring Allreduce "
              "(comparable across K).", "",
              "| buffer | " + " | ".join(f"{a['ranks']} ranks: us / algbw / busbw (GB/s)" for a in allreduce) + " |",
              "|---:|" + "---:|" * len(allreduce)]
    for i, row in enumerate(allreduce[0]["rows"]):
        cells = [f"{a['rows'][i]['us']:.1f} / {a['rows'][i]['algbw']:.2f} / {a['rows'][i]['busbw']:.2f}"
                 for a in allreduce]
        lines.append(f"| {_size(row['bytes'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-mib", type=int, default=64, help="largest Allreduce buffer, MiB")
    p.add_argument("--write", metavar="FILE", help="also write the markdown to FILE")
    p.add_argument("--worker", choices=("train", "allreduce"), help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker == "train":
        return worker_train(args.model, args.steps, args.warmup, args.out)
    if args.worker == "allreduce":
        return worker_allreduce(args.out, args.max_mib)

    train = []
    for model in args.models:
        for k in args.ranks:
            r = mpirun(k, "train", "--model", model, "--steps", str(args.steps), "--warmup", str(args.warmup))
            print(f"{model:14s} ranks {k}: {r['step_ms']:8.1f} ms/step  {r['images_per_s']:7.0f} img/s  "
                  f"comm {100 * r['comm_share']:.1f}%", flush=True)
            train.append(r)
    allreduce = [mpirun(k, "allreduce", "--max-mib", str(args.max_mib)) for k in args.ranks if k > 1]
    command = "python benchmarks/mpi_bench.py" + (f" --write {args.write}" if args.write else "")
    text = report(train, allreduce, command)
    print(text)
    if args.write:
        Path(args.write).write_text(text)


if __name__ == "__main__":
    main()
