"""The experiments by name, and running them.

Each experiment is a module of this package defining ``TITLE``, ``CLAIM``, ``run(ctx) -> Measured``
(which also writes ``ctx.figure_path``), ``verdict(numbers) -> Verdict`` and ``headline(numbers) -> str``.
Modules are imported only when an experiment is looked up, so listing the names costs nothing.
"""
from __future__ import annotations

import contextlib
import importlib
import time
from pathlib import Path

import numpy as np

from .. import backend, kernels
from ..errors import InputError

EXPERIMENTS = (
    "vanishing", "ce_vs_mse", "svm_vs_softmax", "l1_vs_l2", "dropout", "batchnorm",
    "relu_sparsity", "svm_on_features", "fc_as_conv", "pooling", "cross_correlation",
)
"""Every experiment, in report order."""


def get(name: str):
    """The module of experiment ``name``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: choose from {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__package__}.{name}")


@contextlib.contextmanager
def single_threaded():
    """Run the block with one BLAS/OpenMP thread (threadpoolctl, which comes with scikit-learn) and one
    thread for glassnet's compiled kernels (``glassnet.kernels.using(threads=1)``).

    The experiments' arrays are small: one thread is faster - far faster on a busy machine, where idle
    worker threads spin - and every sum is done in the same order whatever the machine's core count
    (the rule in ``glassnet.kernels``).
    """
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits  # noqa: PLC0415
        except ImportError:  # pragma: no cover - scikit-learn depends on it
            pass
        else:
            stack.enter_context(threadpool_limits(limits=1))
        stack.enter_context(kernels.using(threads=1))
        yield


def run_experiment(name: str, seed: int = 0, quick: bool = False, out_dir=".") -> dict:
    """Run one experiment; return its record (claim, setup, numbers, verdict, checks, headline, figure).

    The run is in float32 whatever the default dtype was, with single-threaded BLAS, so the numbers
    depend on (name, seed, quick) only.
    """
    from .common import Context  # noqa: PLC0415

    module = get(name)
    ctx = Context(name=name, seed=int(seed), quick=bool(quick), out_dir=Path(out_dir))
    with backend.default_dtype(np.float32), single_threaded():
        measured = module.run(ctx)
    verdict = module.verdict(measured.numbers)
    return {"index": EXPERIMENTS.index(name) + 1, "title": module.TITLE, "claim": module.CLAIM,
            "setup": measured.setup, **verdict.to_dict(), "headline": module.headline(measured.numbers),
            "figure": ctx.figure_path.name, "numbers": measured.numbers}


def run_experiments(names=None, seed: int = 0, quick: bool = False, out_dir=".", log=None):
    """Run ``names`` (default: all) in report order; return ``(results, seconds_per_experiment)``.

    ``results`` is what results.json holds; the timings are kept apart so that the same seed gives
    the same results file. ``log(text)`` is called after each experiment (e.g. ``print``).
    """
    unknown = set(names or ()) - set(EXPERIMENTS)
    if unknown:
        raise InputError(f"unknown experiment(s) {', '.join(sorted(unknown))}: choose from {', '.join(EXPERIMENTS)}")
    names = [n for n in EXPERIMENTS if not names or n in set(names)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records, seconds = {}, {}
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        records[name] = run_experiment(name, seed, quick, out_dir)
        seconds[name] = time.perf_counter() - start
        if log is not None:
            log(f"[{i:2d}/{len(names)}] {name:<18} {records[name]['verdict']:<14} {seconds[name]:6.1f} s")
    from .. import __version__  # noqa: PLC0415

    results = {"seed": int(seed), "mode": "quick" if quick else "full", "glassnet_version": __version__,
               "experiments": records}
    return results, seconds
