"""Claim: the hinge (SVM) loss is satisfied - exactly zero - once the true class's score beats every
other score by the margin, while the softmax loss is never satisfied (always > 0, it always wants
more); yet both reach similar accuracy.

Scores (10, 9, 9) with the true class first: hinge = sum_j max(0, 9 - 10 + 1) = 0, softmax loss
= log(1 + 2/e) = 0.55, both computed with glassnet's own loss functions. Then two linear classifiers
on the digits, identical but for the loss (SVMLoss, CrossEntropyLoss), trained the same way.
"""
from __future__ import annotations

import numpy as np

from ..functional import softmax_loss, svm_loss
from ..models import mlp
from ..nn import CrossEntropyLoss, SVMLoss
from ..train import predict_scores
from .common import Measured, accuracy, check, digits, figure, fit, fmt, judge, pct, save_figure

TITLE = "Hinge (SVM) vs softmax loss"
CLAIM = ("The hinge loss is zero once the true score beats the others by the margin (true 10 vs others 9 "
         "gives hinge 0, softmax > 0); softmax is never satisfied; both reach similar accuracy on the digits.")

EXAMPLE = (10.0, 9.0, 9.0)
"""Scores of one example whose true class is the first."""
MIN_SATISFIED = 0.5
"""At least this share of training examples must end with hinge loss exactly 0."""
MAX_ACC_GAP = 0.03
"""|test accuracy (SVM) - test accuracy (softmax)| must not exceed this."""
LOSSES = {"svm": (svm_loss, SVMLoss), "softmax": (softmax_loss, CrossEntropyLoss)}


def per_sample_loss(loss, scores, y) -> np.ndarray:
    """The loss of each example alone (glassnet's losses average over the batch)."""
    return np.array([float(loss(scores[i : i + 1], y[i : i + 1])[0]) for i in range(len(y))])


def run(ctx) -> Measured:
    example = np.array([EXAMPLE])
    n = {"example_scores": list(EXAMPLE),
         "example_hinge": float(svm_loss(example, np.array([0]))[0]),
         "example_softmax": float(softmax_loss(example, np.array([0]))[0])}
    scales = [1, 2, 5, 10]
    n["example_scales"] = scales
    n["example_softmax_scaled"] = [float(softmax_loss(example * k, np.array([0]))[0]) for k in scales]
    margins = np.linspace(-3, 5, 81)
    curve = np.stack([margins, np.zeros_like(margins), np.zeros_like(margins)], axis=1)
    n["curve_margin"] = margins.tolist()
    for key, (loss, _) in LOSSES.items():
        n[f"curve_{key}"] = per_sample_loss(loss, curve, np.zeros(len(margins), dtype=int)).tolist()

    splits = digits(ctx.seed)
    epochs = ctx.pick(15, 40)
    n["epochs"] = epochs
    for key, (loss, module) in LOSSES.items():
        model = mlp(64, [], 10, rng=ctx.rng("init"))  # a linear classifier, the same start for both
        solver = fit(model, splits.train, epochs=epochs, lr=0.01, batch_size=64, loss_fn=module(),
                     seed=ctx.seed_for("fit"), val_set=splits.val)
        n[f"val_acc_{key}"] = solver.history["val_acc"]
        n[f"test_acc_{key}"] = accuracy(model, splits.test)
        train_losses = per_sample_loss(loss, predict_scores(model, splits.train.x).astype(np.float64), splits.train.y)
        n[f"train_zero_loss_{key}"] = float(np.mean(train_losses == 0))
        n[f"train_min_loss_{key}"] = float(train_losses.min())
    _plot(n, ctx.figure_path)
    setup = (f"Loss of the scores {EXAMPLE} (true class first) with glassnet's svm_loss (margin 1) and softmax_loss. "
             f"Then a linear classifier 64 -> 10 on the digits, same initial weights, SGD lr 0.01 momentum 0.9, batch 64, "
             f"{epochs} epochs, trained with SVMLoss and with CrossEntropyLoss.")
    return Measured(setup, n)


def verdict(n):
    gap = abs(n["test_acc_svm"] - n["test_acc_softmax"])
    return judge([
        check(n["example_hinge"] == 0 and all(v > 0 for v in [n["example_softmax"], *n["example_softmax_scaled"]]),
              f"scores {tuple(n['example_scores'])}: hinge {fmt(n['example_hinge'])} (= 0 required), softmax "
              f"{fmt(n['example_softmax'])}, still {fmt(n['example_softmax_scaled'][-1])} with scores "
              f"x{n['example_scales'][-1]} (> 0 required)"),
        check(n["train_zero_loss_svm"] >= MIN_SATISFIED and n["train_zero_loss_softmax"] == 0,
              f"after training, hinge loss exactly 0 on {pct(n['train_zero_loss_svm'])} of training examples "
              f"(>= {pct(MIN_SATISFIED)} required); softmax loss 0 on {pct(n['train_zero_loss_softmax'])} (0 required; "
              f"smallest {fmt(n['train_min_loss_softmax'])})"),
        check(gap <= MAX_ACC_GAP,
              f"test accuracy: SVM {pct(n['test_acc_svm'])}, softmax {pct(n['test_acc_softmax'])} "
              f"(gap {100 * gap:.1f} points, <= {100 * MAX_ACC_GAP:.0f} required)"),
    ])


def headline(n) -> str:
    return (f"(10, 9, 9): hinge {fmt(n['example_hinge'])}, softmax {fmt(n['example_softmax'])}; "
            f"test acc. SVM {pct(n['test_acc_svm'])} vs softmax {pct(n['test_acc_softmax'])}")


def _plot(n, path):
    fig, (ax_loss, ax_acc) = figure(2, title="Hinge vs softmax loss")
    m = np.asarray(n["curve_margin"])
    ax_loss.plot(m, n["curve_svm"], color="tab:green", label="hinge (SVM), margin 1")
    ax_loss.plot(m, n["curve_softmax"], color="tab:purple", label="softmax cross-entropy")
    ax_loss.plot([1.0], [n["example_hinge"]], "o", color="tab:green", label=f"scores (10, 9, 9): hinge {fmt(n['example_hinge'])}")
    ax_loss.plot([1.0], [n["example_softmax"]], "s", color="tab:purple",
                 label=f"scores (10, 9, 9): softmax {fmt(n['example_softmax'])}")
    ax_loss.set(xlabel="true score - other scores (scores (m, 0, 0))", ylabel="loss of one example",
                title="one example, 3 classes")
    for key, label, color in (("svm", "SVM (hinge)", "tab:green"), ("softmax", "softmax", "tab:purple")):
        acc = np.asarray(n[f"val_acc_{key}"]) * 100
        ax_acc.plot(np.arange(1, len(acc) + 1), acc, "o-", ms=3, color=color,
                    label=f"{label}: test {pct(n[f'test_acc_{key}'])}, zero loss on {pct(n[f'train_zero_loss_{key}'])} of train")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title="linear classifier on the digits")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path)
