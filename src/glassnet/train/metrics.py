"""Per-epoch metrics: the history table, its CSV file and a confusion matrix."""
from __future__ import annotations

import csv
import io

import numpy as np

from ..io.atomic import write_text

COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "images_per_s")


def write_csv(path, history: dict):
    """Write the history (dict of equal-length lists keyed by COLUMNS) as CSV, atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for i in range(len(history["epoch"])):
        writer.writerow([_fmt(history[c][i]) for c in COLUMNS])
    write_text(path, buf.getvalue())


def _fmt(v):
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm
