"""Same-process CPU benchmark of glassnet against PyTorch: ``python benchmarks/cpu_bench.py [options]``.

A thin wrapper around ``glassnet bench`` (the library side lives in ``glassnet.bench``), with two
presets used for BENCHMARKS.md:

    python benchmarks/cpu_bench.py --preset robust   # 1 thread per side, CPU-time clock
    python benchmarks/cpu_bench.py --preset cores    # all cores per side, wall clock (the default)

Any other arguments are passed to ``glassnet bench`` (see ``glassnet bench --help``), e.g.
``--workload cifar-train-128 --profile`` or ``--scaling``. ``--json out.json`` keeps every number.
"""
from __future__ import annotations

import sys

from glassnet.cli import main

PRESETS = {
    "robust": ["--threads", "1", "--clock", "cpu", "--steps", "30", "--warmup", "3"],
    "cores": ["--steps", "30", "--warmup", "3"],
}


def run(argv):
    argv = list(argv)
    if "--preset" in argv:
        i = argv.index("--preset")
        preset = argv[i + 1]
        if preset not in PRESETS:
            raise SystemExit(f"unknown preset {preset!r}: choose from {', '.join(PRESETS)}")
        argv[i : i + 2] = PRESETS[preset]
    return main(["bench", *argv])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
