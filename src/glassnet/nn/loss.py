"""Loss modules: ``loss, dscores = loss_fn(scores, target)``, thin wrappers over glassnet.functional.loss."""
from __future__ import annotations

from .. import functional as F
from ..backend import array_module
from ..functional.loss import check_labels


class _Loss:
    """A loss: called with (input, target), returns (scalar loss, gradient w.r.t. the input)."""

    def __call__(self, scores, target):
        return self.forward(scores, target)

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _ClassificationLoss(_Loss):
    """Losses over (N, C) scores and (N,) integer labels; checks the labels naming the loss."""

    def forward(self, scores, y):
        y = check_labels(type(self).__name__, scores, y)
        return self._loss(scores, y)


class CrossEntropyLoss(_ClassificationLoss):
    """Softmax cross-entropy from logits (log-sum-exp), averaged over the batch."""

    def _loss(self, scores, y):
        return F.softmax_loss(scores, y)


class SVMLoss(_ClassificationLoss):
    """Multiclass hinge loss with margin ``delta``: summed over classes, averaged over the batch."""

    def __init__(self, delta=1.0):
        self.delta = float(delta)

    def _loss(self, scores, y):
        return F.svm_loss(scores, y, self.delta)

    def get_config(self):
        return {"delta": self.delta}


class _ElementwiseLoss(_Loss):
    """Losses whose target has the input's shape; an optional per-element ``weight``."""

    def __init__(self, weight=None):
        self.weight = weight

    def forward(self, pred, target):
        xp = array_module(pred)
        target = xp.asarray(target, dtype=pred.dtype)
        if tuple(target.shape) != tuple(pred.shape):
            raise ValueError(
                f"{type(self).__name__}: target must have the input's shape {tuple(pred.shape)}, got {tuple(target.shape)}"
            )
        return self._loss(pred, target)

    def _weight_like(self, pred):
        """The weight on pred's backend in pred's dtype (a float64 weight must not promote a float32 loss)."""
        return None if self.weight is None else array_module(pred).asarray(self.weight, dtype=pred.dtype)


class BCELoss(_ElementwiseLoss):
    """Binary cross-entropy on probabilities (logs clamped at -100), mean over elements."""

    def _loss(self, pred, target):
        return F.bce_loss(pred, target, self._weight_like(pred))


class BCEWithLogitsLoss(_ElementwiseLoss):
    """Binary cross-entropy on logits (stable), mean over elements."""

    def _loss(self, pred, target):
        return F.bce_with_logits_loss(pred, target, self._weight_like(pred))


class MSELoss(_ElementwiseLoss):
    """Mean squared error over all elements."""

    def __init__(self):
        super().__init__(None)

    def _loss(self, pred, target):
        return F.mse_loss(pred, target)
