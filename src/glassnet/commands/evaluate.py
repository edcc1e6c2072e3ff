"""Evaluate a finished run on its test (or validation) split: accuracy, loss, per-class accuracy."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..nn import CrossEntropyLoss
from ..train import confusion_matrix, evaluate
from ..train.run import load_run, load_splits

HELP = "evaluate a trained run directory on its test split"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `glassnet train`")
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="which part of the data to score")


def run(args) -> int:
    model, cfg, meta = load_run(args.run_dir)
    splits = load_splits(cfg)
    data = getattr(splits, args.split)
    if len(data) == 0:
        raise InputError(f"{args.run_dir}: the run has no {args.split} examples"
                         + (" (it was trained with --val-fraction 0)" if args.split == "val" else ""))
    result = evaluate(model, data, CrossEntropyLoss(), use_plan=True)
    cm = confusion_matrix(data.y, result["predictions"], splits.num_classes)
    print(f"{cfg['model']} on {cfg['data']} ({args.split}, {len(data.y)} samples): "
          f"accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}")
    per_class = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    print("per-class accuracy: " + "  ".join(f"{c}:{a:.3f}" for c, a in zip(meta["classes"], per_class)))
    print("confusion matrix (rows: true class, columns: predicted):")
    for c, row in zip(meta["classes"], cm):
        print(f"  {c:>10} " + " ".join(f"{v:4d}" for v in row))
    return 0
