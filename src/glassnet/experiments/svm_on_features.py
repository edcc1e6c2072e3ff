"""Claim: a trained CNN with its last layer removed is a feature extractor; a multiclass linear SVM
trained on those features reaches about the accuracy of the network's own softmax head.

A classic CNN (zoo ``classic_cnn``) is trained on the digits; :func:`glassnet.svm.extract_features`
cuts its final Linear layer off and :class:`glassnet.svm.LinearSVM` (hinge loss) is trained on the
features of the training digits. As a reference (not judged: the 8x8 digits are nearly linearly
separable), the same SVM is also trained on the raw pixels.
"""
from __future__ import annotations

from ..models import build_model
from ..svm import LinearSVM, extract_features
from .common import Measured, accuracy, check, digits, figure, fit, judge, patch, pct, save_figure

TITLE = "CNN features + linear SVM vs the softmax head"
CLAIM = ("A trained CNN with its last layer removed, its features fed to a multiclass SVM, reaches about "
         "the accuracy of the softmax head.")

MAX_DEFICIT = 0.02
"""The SVM on features may trail the softmax head by at most this much test accuracy (2 points)."""
CHANNELS, HIDDEN = (16, 32), 64


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    epochs, svm_epochs = ctx.pick(10, 30), ctx.pick(30, 60)
    model = build_model("classic_cnn", splits.input_shape, splits.num_classes, channels=CHANNELS, hidden=HIDDEN,
                        dropout=0.0, seed=ctx.seed_for("init"))
    fit(model, splits.train, epochs=epochs, lr=1e-3, optimizer="adam", seed=ctx.seed_for("fit"))
    n = {"epochs": epochs, "svm_epochs": svm_epochs, "softmax_test_acc": accuracy(model, splits.test)}
    f_train, f_test = extract_features(model, splits.train.x), extract_features(model, splits.test.x)
    n["feature_dim"] = int(f_train.shape[1])
    svm = LinearSVM(splits.num_classes, epochs=svm_epochs, seed=ctx.seed_for("svm")).fit(f_train, splits.train.y)
    n["svm_test_acc"] = svm.score(f_test, splits.test.y)
    n["svm_train_acc"] = svm.score(f_train, splits.train.y)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    raw = LinearSVM(splits.num_classes, epochs=svm_epochs, seed=ctx.seed_for("svm")).fit(flat(splits.train.x), splits.train.y)
    n["raw_pixel_svm_test_acc"] = raw.score(flat(splits.test.x), splits.test.y)
    n["raw_dim"] = int(flat(splits.train.x).shape[1])
    _plot(n, ctx.figure_path)
    setup = (f"classic_cnn (conv3x3({CHANNELS[0]}) -> pool -> conv3x3({CHANNELS[1]}) -> pool -> FC({HIDDEN}) -> FC(10)) trained "
             f"{epochs} epochs with Adam lr 1e-3 on the digits; the {n['feature_dim']} outputs of FC({HIDDEN}) + ReLU feed "
             f"glassnet's LinearSVM (hinge loss, L2 1e-3, SGD momentum 0.9, {svm_epochs} epochs). Test accuracy on 360 digits.")
    return Measured(setup, n)


def verdict(n):
    deficit = n["softmax_test_acc"] - n["svm_test_acc"]
    return judge([
        check(deficit <= MAX_DEFICIT,
              f"test accuracy: SVM on CNN features {pct(n['svm_test_acc'])}, softmax head {pct(n['softmax_test_acc'])} "
              f"(the SVM may trail by at most {100 * MAX_DEFICIT:.0f} points; it trails by {100 * deficit:.1f}). "
              f"For reference, not judged: the same SVM on raw pixels {pct(n['raw_pixel_svm_test_acc'])}"),
    ])


def headline(n) -> str:
    return f"test acc.: SVM on features {pct(n['svm_test_acc'])}, softmax head {pct(n['softmax_test_acc'])}"


def _plot(n, path):
    fig, (ax,) = figure(width=6, height=4, title="Linear SVM on CNN features vs the softmax head")
    labels = ["CNN softmax head", f"SVM on CNN features\n({n['feature_dim']} values)",
              f"SVM on raw pixels\n({n['raw_dim']} values)"]
    values = [n["softmax_test_acc"], n["svm_test_acc"], n["raw_pixel_svm_test_acc"]]
    bars = ax.bar(range(3), [100 * v for v in values], color=["tab:purple", "tab:green", "tab:gray"])
    for b, v in zip(bars, values):
        ax.annotate(pct(v), (b.get_x() + b.get_width() / 2, 100 * v), ha="center", va="bottom", fontsize=9)
    ax.set(xticks=range(3), xticklabels=labels, ylabel="test accuracy (%)", ylim=(min(values) * 100 - 15, 101))
    ax.legend(handles=[patch("tab:purple", f"CNN trained {n['epochs']} epochs (its own FC + softmax)"),
                       patch("tab:green", f"linear SVM, {n['svm_epochs']} epochs, on the CNN's features"),
                       patch("tab:gray", "the same SVM on raw pixels (reference)")], fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)
