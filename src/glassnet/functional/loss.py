"""Loss functions. Each returns ``(loss, dscores)``: the scalar loss and its gradient w.r.t. the input.

Reductions follow PyTorch's default ``mean``: softmax and SVM losses sum over classes and average
over the batch; BCE and MSE average over all elements.
"""
from __future__ import annotations

from ..backend import array_module
from .activation import sigmoid


def check_labels(name, scores, y):
    """Validate class labels y (N,) of integers in [0, C) for scores (N, C); return them as int64."""
    xp = array_module(scores)
    if scores.ndim != 2:
        raise ValueError(f"{name}: expected scores of shape (N, C), got {tuple(scores.shape)}")
    y = xp.asarray(y)
    if y.shape != (scores.shape[0],):
        raise ValueError(f"{name}: expected labels of shape ({scores.shape[0]},) for scores {tuple(scores.shape)}, got {tuple(y.shape)}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and bool(xp.all(y == xp.round(y))):
            y = y.astype("int64")
        else:
            raise ValueError(f"{name}: labels must be integers, got dtype {y.dtype}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= scores.shape[1]):
        raise ValueError(
            f"{name}: labels must lie in [0, {scores.shape[1] - 1}] for {scores.shape[1]} classes, "
            f"got values from {int(y.min())} to {int(y.max())}"
        )
    return y.astype("int64", copy=False)


def _check_targets(name, pred, target, weight=None):
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"{name}: targets must have the shape of the input {tuple(pred.shape)}, got {tuple(target.shape)}")
    if weight is not None and tuple(weight.shape) != tuple(pred.shape):
        xp = array_module(pred)
        try:
            xp.broadcast_shapes(tuple(weight.shape), tuple(pred.shape))
        except ValueError:
            raise ValueError(
                f"{name}: weight of shape {tuple(weight.shape)} does not broadcast to the input {tuple(pred.shape)}"
            ) from None


def softmax_loss(scores, y):
    """Softmax cross-entropy from logits, computed with log-sum-exp.

    log p[n, k] = s[n, k] - max_j s[n, j] - log sum_j exp(s[n, j] - max_j s[n, j])
    L = -(1/N) sum_n log p[n, y_n];   dL/ds[n, k] = (p[n, k] - [k == y_n]) / N.
    scores (N, C), y (N,) integer labels.
    """
    y = check_labels("softmax_loss", scores, y)
    xp = array_module(scores)
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(n)
    loss = -log_p[rows, y].mean()
    dscores = xp.exp(log_p)
    dscores[rows, y] -= 1
    dscores /= n
    return loss, dscores


def svm_loss(scores, y, delta=1.0):
    """Multiclass SVM (hinge) loss, the cs231n / Weston-Watkins form.

    L = (1/N) sum_n sum_{j != y_n} max(0, s[n, j] - s[n, y_n] + delta)
    dL/ds[n, j] = [margin_j > 0] / N for j != y_n; dL/ds[n, y_n] = -(number of j with margin > 0) / N.
    (PyTorch's MultiMarginLoss also divides by the class count C.)
    """
    y = check_labels("svm_loss", scores, y)
    xp = array_module(scores)
    n = scores.shape[0]
    rows = xp.arange(n)
    margins = xp.maximum(0, scores - scores[rows, y][:, None] + scores.dtype.type(delta))
    margins[rows, y] = 0
    loss = margins.sum() / n
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores /= n
    return loss, dscores


def bce_loss(probs, targets, weight=None):
    """Binary cross-entropy on probabilities, with optional per-element weights.

    L = -(1/M) sum_i w_i [t_i * log(p_i) + (1 - t_i) * log(1 - p_i)], each log clamped at >= -100
    as PyTorch does; dL/dp_i = w_i (p_i - t_i) / max(p_i (1 - p_i), 1e-12) / M; M = number of elements.
    """
    _check_targets("bce_loss", probs, targets, weight)
    xp = array_module(probs)
    if probs.size and (float(probs.min()) < 0 or float(probs.max()) > 1):
        raise ValueError("bce_loss: input must hold probabilities in [0, 1] (use bce_with_logits_loss for logits)")
    # log 0 = -inf clamps to -100; where() keeps 0 away from log so p in {0, 1} raises no divide warning
    log_p = xp.where(probs > 0, xp.maximum(xp.log(xp.where(probs > 0, probs, 1)), -100), -100)
    log_1mp = xp.where(probs < 1, xp.maximum(xp.log1p(-xp.where(probs < 1, probs, 0)), -100), -100)
    elem = -(targets * log_p + (1 - targets) * log_1mp)
    eps = probs.dtype.type(xp.float32(1e-12))  # PyTorch's clamp is the float 1e-12 (= 9.99999996e-13)
    grad = (probs - targets) / xp.maximum(probs * (1 - probs), eps)
    if weight is not None:
        elem = elem * weight
        grad = grad * weight
    m = probs.size
    return elem.mean(), grad / probs.dtype.type(m)


def bce_with_logits_loss(logits, targets, weight=None):
    """Binary cross-entropy on logits, stable for any |x|.

    l_i = max(x_i, 0) - x_i t_i + log(1 + exp(-|x_i|))  (= -[t log sigma(x) + (1-t) log(1 - sigma(x))])
    L = (1/M) sum_i w_i l_i;   dL/dx_i = w_i (sigma(x_i) - t_i) / M.
    """
    _check_targets("bce_with_logits_loss", logits, targets, weight)
    xp = array_module(logits)
    elem = xp.maximum(logits, 0) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))
    grad = sigmoid(logits) - targets
    if weight is not None:
        elem = elem * weight
        grad = grad * weight
    return elem.mean(), grad / logits.dtype.type(logits.size)


def mse_loss(pred, target):
    """Mean squared error: L = (1/M) sum_i (p_i - t_i)^2;  dL/dp_i = 2 (p_i - t_i) / M."""
    _check_targets("mse_loss", pred, target)
    diff = pred - target
    return (diff * diff).mean(), diff * pred.dtype.type(2.0 / pred.size)
