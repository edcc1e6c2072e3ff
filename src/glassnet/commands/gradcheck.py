"""Check every layer's and loss's analytic backward against central differences (float64) and print
a table of relative errors ||analytic - numeric|| / (||analytic|| + ||numeric||)."""
from __future__ import annotations

from ..diagnostics.layer_checks import run_all
from ..errors import InputError

HELP = "numerical gradient check of every layer and loss"


def add_arguments(p):
    p.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights")


def run(args) -> int:
    if not args.tol > 0:
        raise InputError(f"--tol must be > 0, got {args.tol}")
    results = run_all(args.seed)
    width = max(len(r.name) for r in results)
    gwidth = max(len("gradient"), *(len(k) for r in results for k in r.errors))
    rule = "-" * (width + gwidth + 24)
    print(f"{'layer / loss':<{width}}  {'gradient':<{gwidth}} {'rel. error':>10}  verdict")
    print(rule)
    failed = 0
    for r in results:
        for k, err in r.errors.items():
            ok = err < args.tol
            failed += not ok
            print(f"{r.name:<{width}}  {k:<{gwidth}} {err:10.2e}  {'ok' if ok else 'FAIL'}")
    total = sum(len(r.errors) for r in results)
    print(rule)
    print(f"{total - failed} of {total} gradients within {args.tol:g}")
    return 1 if failed else 0
