"""CNN features -> multiclass SVM: cut the classifier head off a trained run, train glassnet's linear
SVM (hinge loss) on the features, and compare its test accuracy with the softmax head's."""
from __future__ import annotations

import math

from ..errors import InputError
from ..nn import CrossEntropyLoss
from ..svm import LinearSVM, extract_features
from ..train import evaluate
from ..train.run import load_run, load_splits

HELP = "train a multiclass SVM on a trained network's features and compare with its softmax head"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `glassnet train`")
    p.add_argument("--reg", type=float, default=1e-3, help="L2 strength of the SVM")
    p.add_argument("--delta", type=float, default=1.0, help="hinge margin")
    p.add_argument("--epochs", type=int, default=60, help="epochs of SVM training")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate of the SVM")


def compare(model, splits, reg=1e-3, delta=1.0, epochs=60, lr=0.01, seed=0) -> dict:
    """Softmax-head vs SVM-on-features test accuracy of a trained Sequential model."""
    head = evaluate(model, splits.test, CrossEntropyLoss())["accuracy"]
    f_train = extract_features(model, splits.train.x)
    f_test = extract_features(model, splits.test.x)
    svm = LinearSVM(splits.num_classes, reg=reg, delta=delta, lr=lr, epochs=epochs, seed=seed).fit(f_train, splits.train.y)
    return {"softmax_test_accuracy": head, "svm_test_accuracy": svm.score(f_test, splits.test.y),
            "feature_dim": int(f_train.shape[1])}


def run(args) -> int:
    for option, value, ok, rule in (("--epochs", args.epochs, args.epochs >= 1, ">= 1"),
                                    ("--lr", args.lr, args.lr > 0, "> 0"),
                                    ("--reg", args.reg, args.reg >= 0, ">= 0"),
                                    ("--delta", args.delta, args.delta > 0, "> 0")):
        if not math.isfinite(value):
            raise InputError(f"{option} must be a finite number, got {value}")
        if not ok:
            raise InputError(f"{option} must be {rule}, got {value}")
    model, cfg, _ = load_run(args.run_dir)
    r = compare(model, load_splits(cfg), args.reg, args.delta, args.epochs, args.lr, cfg["seed"])
    print(f"features: {r['feature_dim']} values per image (network without its last layer)")
    print(f"softmax head test accuracy : {r['softmax_test_accuracy']:.4f}")
    print(f"linear SVM on features     : {r['svm_test_accuracy']:.4f}")
    print(f"difference                 : {100 * (r['svm_test_accuracy'] - r['softmax_test_accuracy']):+.2f} points")
    return 0
