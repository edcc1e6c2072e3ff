"""Train a zoo model on a dataset; everything lands in a run directory.

With no arguments: classic_cnn on the digits bundled with scikit-learn (no download).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..data import DATASETS
from ..data.npz import is_npz_path
from ..errors import InputError
from ..models import MODELS
from ..optim import OPTIMIZERS
from ..train.run import DEFAULTS, SCHEDULES, default_run_dir, train_run

HELP = "train a model (default: classic_cnn on the bundled digits)"


def add_arguments(p):
    d = DEFAULTS
    p.add_argument("--model", default=d["model"], choices=sorted(MODELS), help="zoo model")
    p.add_argument("--data", default=d["data"], type=data_source, metavar="{" + ",".join(DATASETS) + "} or FILE.npz",
                   help="dataset, or your own arrays: a .npz file with x_train, y_train, x_test, y_test "
                        "(images (N, C, H, W) or signals (N, C, L), labels 0..K-1)")
    p.add_argument("--data-dir", default=None, help="folder of the dataset files (mnist, fashion_mnist, cifar10, folder)")
    p.add_argument("--download", action="store_true", help="download missing MNIST/Fashion-MNIST files")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training examples")
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"], help="share of the training data held out")
    p.add_argument("--epochs", type=int, default=None, help=f"epochs in total (default {d['epochs']})")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="examples per step")
    p.add_argument("--optimizer", default=d["optimizer"], choices=OPTIMIZERS, help="update rule")
    p.add_argument("--lr", type=float, default=d["lr"], help="learning rate")
    p.add_argument("--momentum", type=float, default=d["momentum"], help="for sgd, nesterov, rmsprop")
    p.add_argument("--schedule", default=d["schedule"], choices=SCHEDULES, help="learning-rate schedule over the epochs")
    p.add_argument("--warmup", type=int, default=d["warmup"], help="linear warm-up epochs (cosine schedule)")
    p.add_argument("--step-size", type=int, default=d["step_size"], help="epochs per decay (step schedule)")
    p.add_argument("--gamma", type=float, default=d["gamma"], help="decay factor (step schedule)")
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"],
                   help="weight decay of the optimizer (decoupled for adamw)")
    p.add_argument("--l1", type=float, default=d["l1"], help="L1 penalty reg*sum|W| on weights")
    p.add_argument("--l2", type=float, default=d["l2"], help="L2 penalty 0.5*reg*sum(W^2) on weights")
    p.add_argument("--dropout", type=float, default=None, help="dropout probability (model default if unset)")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random crops/flips")
    p.add_argument("--replacement", action="store_true", help="sample minibatches with replacement")
    p.add_argument("--patience", type=int, default=None, help="early stopping after N epochs without improvement")
    p.add_argument("--restore-best", action="store_true",
                   help="end with the weights of the best validation epoch instead of the last epoch's")
    p.add_argument("--seed", type=int, default=d["seed"], help="seed of the split, the weights and the batches")
    p.add_argument("--device", default=d["device"], choices=("cpu", "cuda"), help="where to compute (cuda needs CuPy)")
    p.add_argument("--dtype", default=d["dtype"], choices=("float32", "float64"), help="dtype of weights and data")
    p.add_argument("--out", default=None, help="run directory (default runs/<model>-<data>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the run in RUN_DIR from its checkpoint with its saved configuration "
                        "(only --epochs may change it: other options are refused)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: `mpirun -n K glassnet train --distributed ...` splits each "
                        "global batch of --batch-size across the K ranks (needs mpi4py: pip install glassnet[mpi])")
    p.add_argument("--sync-bn", dest="sync_bn", action="store_true",
                   help="with --distributed: batch norm over the global batch instead of each rank's shard")


def data_source(value: str) -> str:
    """A dataset name (case and - / _ as load_data accepts them) or a path ending in .npz."""
    if is_npz_path(value) or value.lower().replace("-", "_") in DATASETS:
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is neither a dataset ({', '.join(DATASETS)}) nor a .npz file path")


def run(args) -> int:
    from ..distributed import launched_size  # noqa: PLC0415 - distributed hook (does not import mpi4py)

    if getattr(args, "distributed", False):
        from ..distributed.cli import run_distributed  # noqa: PLC0415

        return run_distributed(args, _run)
    if launched_size() > 1:
        raise InputError(f"started by an MPI launcher as one of {launched_size()} processes, but without "
                         f"--distributed: every process would train alone into the same run directory; "
                         f"add --distributed")
    return _run(args)


RESUME_OPTIONS = {"resume", "epochs", "progress", "distributed"}
"""What may accompany --resume: the saved configuration decides everything else."""


def conflicts_with_resume(args) -> list[str]:
    """The options given with --resume that would change the saved run, as the user typed them."""
    parser_defaults = {**DEFAULTS, "data_dir": None, "out": None, "overwrite": False}
    return sorted(f"--{key.replace('_', '-')}" for key, default in parser_defaults.items()
                  if key not in RESUME_OPTIONS and hasattr(args, key) and getattr(args, key) != default)


def _run(args, comm=None) -> int:
    say = (lambda message: print(message, flush=True)) if comm is None or comm.is_main else None
    if args.resume:
        conflicts = conflicts_with_resume(args)
        if conflicts:
            raise InputError(f"--resume continues {args.resume} with its saved configuration; it cannot be "
                             f"combined with {', '.join(conflicts)} (only --epochs may change)")
        out = Path(args.resume)
    else:
        keys = set(DEFAULTS) - {"epochs"}
        cfg = {k: getattr(args, k) for k in keys}
        cfg["epochs"] = args.epochs if args.epochs is not None else DEFAULTS["epochs"]
        out = Path(args.out) if args.out is not None else default_run_dir(cfg)
    try:
        if args.resume:
            summary = train_run({"epochs": args.epochs}, out_dir=out, resume=True, progress=args.progress,
                                comm=comm, log=say)
        else:
            summary = train_run(cfg, out_dir=out, progress=args.progress, comm=comm, overwrite=args.overwrite,
                                log=say)
    except KeyboardInterrupt:
        if (out / "config.json").is_file():
            raise KeyboardInterrupt(f"{out} keeps its last finished epoch; continue with "
                                    f"`glassnet train --resume {out}`") from None
        raise
    if comm is not None and not comm.is_main:  # distributed hook: rank 0 speaks for the job
        return 0
    val = summary["val_accuracy"]
    print(f"test accuracy {summary['test_accuracy']:.4f} (val {'-' if val is None else f'{val:.4f}'}) after "
          f"{summary['epochs']} epochs in {summary['seconds']:.1f} s, {summary['params']:,} parameters")
    print(f"run saved to {summary['run_dir']}")
    return 0
