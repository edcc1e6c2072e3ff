"""Time glassnet against PyTorch (and, for inference, onnxruntime) on small CNNs and an MLP, side by side in one process.

Each workload runs warm-up steps, then interleaved glassnet and PyTorch steps with the same number
of threads on both sides (torch.set_num_threads, threadpoolctl for NumPy's BLAS, glassnet's
kernel threads); with several threads each timed step follows untimed steps of its own side (for
as long as the report states), so the other sides' spinning threads (PyTorch's OpenMP workers,
onnxruntime's pool) are quiet.
It prints the median and quartiles of the step time, images/s, the speed ratio
t_PyTorch / t_glassnet (> 1: glassnet is faster), achieved GFLOP/s against this machine's measured
sgemm peak, and the peak memory of a step (one fresh process per side). PyTorch must be installed.
If OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set they can slow NumPy: run
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE glassnet bench` to compare.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError
from ..io.atomic import write_text

HELP = "benchmark glassnet against PyTorch and onnxruntime on the CPU (needs torch)"


def add_arguments(p):
    from ..bench.workloads import WORKLOADS  # noqa: PLC0415 - keeps `glassnet --help` light

    p.add_argument("--workload", nargs="+", choices=sorted(WORKLOADS), default=None, metavar="NAME",
                   help=f"workloads to run (default: all): {', '.join(WORKLOADS)}")
    p.add_argument("--steps", type=int, default=None, help="timed steps per side (default 20; 5 with --quick)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per side first (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="threads per side (default: the usable cores)")
    p.add_argument("--profile", action="store_true", help="also print per-layer forward and backward times")
    p.add_argument("--scaling", action="store_true", help="also time LeNet training at batch 32, 64, 128, 256, 512")
    p.add_argument("--scaling-only", action="store_true", help="only the batch-size scaling table")
    p.add_argument("--first-run", action="store_true",
                   help="also time the default `glassnet train` from an empty kernel cache and again with it filled")
    p.add_argument("--quick", action="store_true", help="few steps and no memory measurement (a smoke run)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                   help="wall: elapsed time; cpu: CPU time of the process (robust to other processes on the cores "
                        "when --threads 1)")
    p.add_argument("--markdown", action="store_true", help="print tables in Markdown")
    p.add_argument("--json", default=None, metavar="PATH", help="also write every number to PATH as JSON")
    p.add_argument("--device", default="cpu", choices=["cpu"], help="only the CPU is benchmarked")


def run(args) -> int:
    from ..bench import benchmark, format_report  # noqa: PLC0415

    steps = args.steps if args.steps is not None else (5 if args.quick else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    if steps < 1 or warmup < 0:
        raise InputError("--steps must be >= 1 and --warmup >= 0")
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads must be >= 1")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise InputError(f"--json {args.json}: the folder {Path(args.json).resolve().parent} does not exist")
    if steps < 20 and not args.quick:
        print(f"note: {steps} steps (the reported medians want >= 20)", file=sys.stderr)
    report = benchmark(
        args.workload, steps=steps, warmup=warmup, threads=args.threads,
        memory=not (args.quick or args.no_memory), profile=args.profile,
        scaling=args.scaling, scaling_only=args.scaling_only, clock=args.clock, quick=args.quick,
        first_run=args.first_run,
        progress=lambda name: print(f"running {name} ...", file=sys.stderr, flush=True),
    )
    print(format_report(report, markdown=args.markdown))
    if args.json:
        write_text(args.json, json.dumps(report, indent=1, default=str))
    return 0
