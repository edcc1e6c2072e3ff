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
    """Softmax cross-entropy from logits (:func:`glassnet.functional.softmax_loss`), averaged over the batch.

    Convention: computed from the logits with log-sum-exp, never as log(softmax(x)); PyTorch's
    default ``mean`` reduction. Returns ``(loss, dscores)`` in one call.

    Shape:
        scores (N, C) logits; labels (N,) integers in [0, C); loss a scalar, dscores (N, C).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> loss, dscores = nn.CrossEntropyLoss()(np.zeros((2, 4)), np.array([0, 3]))
        >>> round(float(loss), 4), dscores.shape  # log 4 for uniform scores
        (1.3863, (2, 4))
    """

    def _loss(self, scores, y):
        return F.softmax_loss(scores, y)


class SVMLoss(_ClassificationLoss):
    """The cs231n multiclass hinge loss (:func:`glassnet.functional.svm_loss`): sum over the wrong
    classes j of max(0, s_j - s_y + delta), averaged over the batch (no division by the class count,
    unlike PyTorch's MultiMarginLoss).

    Args:
        delta: the margin (default 1.0).

    Shape:
        scores (N, C); labels (N,) integers in [0, C); loss a scalar, dscores (N, C).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> float(nn.SVMLoss()(np.zeros((1, 3)), np.array([0]))[0])  # two wrong classes, margin 1 each
        2.0
    """

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
    """Binary cross-entropy on probabilities (:func:`glassnet.functional.bce_loss`; logs clamped at
    -100 as in PyTorch), averaged over all elements.

    Args:
        weight: an optional per-element weight that broadcasts to the input.

    Shape:
        probabilities in [0, 1] and targets of the same shape (N, ...); loss a scalar, dprobs like the input.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> round(float(nn.BCELoss()(np.full((2, 1), 0.5), np.array([[0.0], [1.0]]))[0]), 4)  # log 2
        0.6931
    """

    def _loss(self, pred, target):
        return F.bce_loss(pred, target, self._weight_like(pred))


class BCEWithLogitsLoss(_ElementwiseLoss):
    """Binary cross-entropy on logits (:func:`glassnet.functional.bce_with_logits_loss`; computed
    stably, without forming the sigmoid), averaged over all elements.

    Args:
        weight: an optional per-element weight that broadcasts to the input.

    Shape:
        logits and targets of the same shape (N, ...); loss a scalar, dlogits like the input.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> round(float(nn.BCEWithLogitsLoss()(np.zeros((2, 1)), np.array([[0.0], [1.0]]))[0]), 4)  # log 2
        0.6931
    """

    def _loss(self, pred, target):
        return F.bce_with_logits_loss(pred, target, self._weight_like(pred))


class MSELoss(_ElementwiseLoss):
    """Mean squared error (:func:`glassnet.functional.mse_loss`), averaged over all elements.

    Shape:
        predictions and targets of the same shape (N, ...); loss a scalar, dpred like the input.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> loss, dpred = nn.MSELoss()(np.array([[1.0, 3.0]]), np.array([[0.0, 1.0]]))
        >>> float(loss), dpred.tolist()  # (1 + 4) / 2; d/dpred = 2 (pred - target) / 2
        (2.5, [[1.0, 2.0]])
    """

    def __init__(self):
        super().__init__(None)

    def _loss(self, pred, target):
        return F.mse_loss(pred, target)
