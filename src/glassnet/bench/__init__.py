"""Side-by-side CPU benchmark of glassnet against PyTorch (the library side of ``glassnet bench``).

>>> from glassnet.bench import benchmark, format_report
>>> print(format_report(benchmark(["lenet-train-64"], steps=20, threads=1)))   # doctest: +SKIP

PyTorch is imported when a benchmark runs, not when this package is imported.
"""
from .runner import benchmark, format_report, run_scaling, run_workload
from .workloads import SCALING_BATCHES, WORKLOADS, Workload

__all__ = ["benchmark", "format_report", "run_scaling", "run_workload", "SCALING_BATCHES", "WORKLOADS", "Workload"]
