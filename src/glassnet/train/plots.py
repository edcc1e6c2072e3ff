"""PNG plots of a training run (matplotlib, headless Agg backend)."""
from __future__ import annotations

import numpy as np

from ..io.atomic import atomic_path


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported on first use)."""
    import matplotlib  # noqa: PLC0415 - plotting is optional at import time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save_png(fig, path):
    """Write ``fig`` to ``path`` as PNG, atomically (write then rename)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_history(history: dict, path, title="training"):
    """Loss (left) and accuracy (right) per epoch, train and validation."""
    plt = pyplot()
    epochs = history["epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["train_loss"], "o-", label="train loss (mean over batches)")
    if any(v is not None for v in history["val_loss"]):
        ax_loss.plot(epochs, history["val_loss"], "s-", label="validation loss")
    ax_loss.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    ax_loss.legend()
    ax_acc.plot(epochs, np.array(history["train_acc"]) * 100, "o-", label="train accuracy")
    if any(v is not None for v in history["val_acc"]):
        ax_acc.plot(epochs, np.array(history["val_acc"], dtype=float) * 100, "s-", label="validation accuracy")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    save_png(fig, path)
    plt.close(fig)


def plot_confusion(cm, classes, path, title="confusion matrix"):
    """Heat map of a confusion matrix with counts in the cells."""
    plt = pyplot()
    cm = np.asarray(cm)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n))
    im = ax.imshow(cm, cmap="Blues")
    ax.set(xticks=range(n), yticks=range(n), xticklabels=classes, yticklabels=classes,
           xlabel="predicted class", ylabel="true class", title=title)
    plt.setp(ax.get_xticklabels(), rotation=45 if n > 10 else 0, ha="right" if n > 10 else "center")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > threshold else "black")
    fig.colorbar(im, ax=ax, label="samples")
    save_png(fig, path)
    plt.close(fig)
