"""Measure the textbook claims: vanishing gradients, cross-entropy vs MSE, hinge vs softmax, L1 vs L2,
dropout, batch norm, ReLU sparsity, SVM on CNN features, FC layers as convolutions, pooling and
translation invariance, convolution vs cross-correlation.

Writes DIR/report.md (for each experiment: claim, setup, figure, verdict with the numbers),
DIR/results.json (every number the report quotes) and one PNG per experiment. Verdicts are computed
from the measured numbers by thresholds in the code. The same seed gives the same results.json.
"""
from __future__ import annotations

import time

from ..experiments.registry import EXPERIMENTS

HELP = "run the experiments that measure the textbook claims and write a report"


def add_arguments(p):
    p.add_argument("names", nargs="*", metavar="NAME", help=f"experiments to run (default: all): {', '.join(EXPERIMENTS)}")
    p.add_argument("--quick", action="store_true", help="smaller runs (all eleven in about a minute or two on 2 cores)")
    p.add_argument("--out", default="experiments", help="folder for report.md, results.json and the figures")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (data split, weights, batches)")
    p.add_argument("--list", action="store_true", help="list the experiments and their claims, then exit")


def run(args) -> int:
    from ..experiments import get, run_experiments, write_report  # noqa: PLC0415 - heavy imports on demand

    if args.list:
        for name in EXPERIMENTS:
            print(f"{name:<18} {get(name).CLAIM}")
        return 0
    start = time.perf_counter()
    mode = "quick" if args.quick else "full"
    print(f"glassnet experiments: {len(args.names) or len(EXPERIMENTS)} experiment(s), {mode} mode, seed {args.seed}",
          flush=True)
    results, seconds = run_experiments(args.names, args.seed, args.quick, args.out, log=lambda s: print(s, flush=True))
    report = write_report(results, args.out)
    print(f"total {time.perf_counter() - start:.1f} s (experiments {sum(seconds.values()):.1f} s)")
    print(f"report: {report}\nresults: {report.parent / 'results.json'}")
    return 0
