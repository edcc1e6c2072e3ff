"""Claim: dropout narrows the gap between training and test accuracy of an over-parameterised network.

An MLP with two hidden layers of 512 units (~300k weights) trained on 100 digits (10 per class)
memorises them. The same network, from the same initial weights and batches, is trained with
dropout (20 % of the inputs, 50 % of the hidden units, as in Hinton et al. 2012). The gap
train accuracy - test accuracy (both in eval mode) is averaged over several random subsets; the
train/test cross-entropy gap is reported as well.
"""
from __future__ import annotations

import numpy as np

from ..models import mlp
from ..nn import CrossEntropyLoss
from ..train import evaluate
from .common import Measured, check, digits, figure, fit, fmt, judge, pct, save_figure, subset

TITLE = "Dropout and the train/test gap"
CLAIM = "Dropout narrows the train/test accuracy gap of an over-parameterised net (digits subset, so it overfits)."

N_TRAIN, WIDTH = 100, 512
DROPOUT = {"plain": (0.0, 0.0), "dropout": (0.5, 0.2)}
"""(hidden, input) dropout probabilities of the two nets."""
MIN_OVERFIT_GAP = 0.05
"""The plain net must overfit: a gap of at least this much (else the experiment says nothing)."""
MIN_GAP_REDUCTION = 0.01
"""Dropout must narrow the mean accuracy gap by at least this much (1 point)."""
MIN_LOSS_GAP_REDUCTION = 0.1
"""... and the mean loss gap (test - train cross-entropy) by at least this fraction."""


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    repeats, epochs = ctx.pick(3, 5), ctx.pick(100, 150)
    loss_fn = CrossEntropyLoss()
    n = {"repeats": repeats, "epochs": epochs, "n_train": N_TRAIN, "width": WIDTH}
    for key in DROPOUT:
        for k in ("train_acc", "test_acc", "train_loss", "test_loss"):
            n[f"{k}_{key}"] = []
    for r in range(repeats):
        train = subset(splits.train, N_TRAIN, ctx.seed_for("subset", r))
        for key, (p, p_in) in DROPOUT.items():
            model = mlp(64, [WIDTH, WIDTH], 10, dropout=p, input_dropout=p_in, rng=ctx.rng("init", r))
            solver = fit(model, train, epochs=epochs, lr=1e-3, optimizer="adam", batch_size=50,
                         seed=ctx.seed_for("fit", r), val_set=splits.test)
            tr, te = evaluate(model, train, loss_fn), evaluate(model, splits.test, loss_fn)
            for k, v in (("train_acc", tr["accuracy"]), ("test_acc", te["accuracy"]),
                         ("train_loss", tr["loss"]), ("test_loss", te["loss"])):
                n[f"{k}_{key}"].append(v)
            if r == 0:
                n[f"curve_train_{key}"] = solver.history["train_acc"]
                n[f"curve_test_{key}"] = solver.history["val_acc"]
    for key in DROPOUT:
        n[f"gap_{key}"] = float(np.mean(np.subtract(n[f"train_acc_{key}"], n[f"test_acc_{key}"])))
        n[f"loss_gap_{key}"] = float(np.mean(np.subtract(n[f"test_loss_{key}"], n[f"train_loss_{key}"])))
        n[f"mean_test_acc_{key}"] = float(np.mean(n[f"test_acc_{key}"]))
        n[f"mean_train_acc_{key}"] = float(np.mean(n[f"train_acc_{key}"]))
    _plot(n, ctx.figure_path)
    setup = (f"MLP 64 -> {WIDTH} -> {WIDTH} -> 10 (ReLU, He init) on {N_TRAIN} training digits (stratified random subset), "
             f"Adam lr 1e-3, batch 50, {epochs} epochs, with and without dropout (50 % hidden, 20 % input); same initial "
             f"weights and batches; accuracies in eval mode on the subset and on the 360 test digits; "
             f"mean over {repeats} subsets.")
    return Measured(setup, n)


def verdict(n):
    reduction = n["gap_plain"] - n["gap_dropout"]
    loss_ratio = n["loss_gap_dropout"] / n["loss_gap_plain"] if n["loss_gap_plain"] > 0 else float("inf")
    return judge([
        check(n["gap_plain"] >= MIN_OVERFIT_GAP,
              f"the plain net overfits: train {pct(n['mean_train_acc_plain'])}, test {pct(n['mean_test_acc_plain'])}, "
              f"gap {100 * n['gap_plain']:.1f} points (>= {100 * MIN_OVERFIT_GAP:.0f} required)"),
        check(reduction >= MIN_GAP_REDUCTION,
              f"accuracy gap with dropout {100 * n['gap_dropout']:.1f} points vs {100 * n['gap_plain']:.1f} without: "
              f"narrower by {100 * reduction:.1f} points (>= {100 * MIN_GAP_REDUCTION:.0f} required); "
              f"test accuracy {pct(n['mean_test_acc_dropout'])} vs {pct(n['mean_test_acc_plain'])}"),
        check(loss_ratio <= 1 - MIN_LOSS_GAP_REDUCTION,
              f"cross-entropy gap (test - train) with dropout {fmt(n['loss_gap_dropout'])} vs {fmt(n['loss_gap_plain'])} "
              f"without ({fmt(loss_ratio)}x; <= {fmt(1 - MIN_LOSS_GAP_REDUCTION)}x required)"),
    ])


def headline(n) -> str:
    return (f"train-test accuracy gap: {100 * n['gap_plain']:.1f} points without, {100 * n['gap_dropout']:.1f} with dropout")


def _plot(n, path):
    fig, (ax_curve, ax_bar) = figure(2, title=f"Dropout on {n['n_train']} training digits, 2 x {n['width']} hidden units")
    for key, label, color in (("plain", "no dropout", "tab:red"), ("dropout", "dropout 0.5 (inputs 0.2)", "tab:blue")):
        tr, te = np.asarray(n[f"curve_train_{key}"]) * 100, np.asarray(n[f"curve_test_{key}"]) * 100
        ep = np.arange(1, len(tr) + 1)
        ax_curve.plot(ep, tr, "-", color=color, label=f"{label}: train")
        ax_curve.plot(ep, te, "--", color=color, label=f"{label}: test")
    ax_curve.set(xlabel="epoch", ylabel="accuracy (%)", title="first subset", ylim=(50, 101))
    keys = list(DROPOUT)
    x = np.arange(len(keys))
    ax_bar.bar(x - 0.2, [100 * n[f"gap_{k}"] for k in keys], 0.4, color="tab:gray", label="accuracy gap train - test (points)")
    ax_bar.bar(x + 0.2, [100 * n[f"loss_gap_{k}"] for k in keys], 0.4, color="tab:olive", label="loss gap test - train (x 100)")
    ax_bar.set(xticks=x, xticklabels=["no dropout", "dropout"], ylabel="gap",
               title=f"gaps, mean over {n['repeats']} subsets")
    for ax in (ax_curve, ax_bar):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path)
