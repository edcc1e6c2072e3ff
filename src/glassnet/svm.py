"""CNN features -> multiclass SVM: cut the classifier head off a trained network and train a linear
SVM (glassnet's own hinge loss) on what the rest of the network computes.

The SVM scores are s = f W + b on standardised features f; it minimises
    L = (1/N) sum_n sum_{j != y_n} max(0, s_nj - s_n,y_n + delta) + 0.5 * reg * sum(W * W)
by minibatch SGD with momentum.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .data import ArrayDataset, DataLoader
from .nn import Linear, Sequential, SVMLoss
from .optim import L2, SGD, CosineLR
from .train.evaluate import predict_scores


def cut_head(model: Sequential, layers: int = 1) -> Sequential:
    """The model without its last ``layers`` layers (default: the final classifier layer)."""
    if not isinstance(model, Sequential) or len(model) <= layers:
        raise ValueError(f"cut_head needs a Sequential model with more than {layers} layers")
    return Sequential(*list(model)[:-layers]).train(model.training)  # shares the layers: keep their mode


def extract_features(model: Sequential, x, batch_size=512, layers: int = 1) -> np.ndarray:
    """Features of inputs ``x``: the output of ``model`` without its last ``layers`` layers (eval mode)."""
    return predict_scores(cut_head(model, layers), x, batch_size).reshape(len(x), -1)


class LinearSVM:
    """A multiclass linear SVM trained with glassnet's hinge loss (SVMLoss) and an L2 penalty."""

    def __init__(self, num_classes, reg=1e-3, delta=1.0, lr=0.01, epochs=60, batch_size=64, seed=0):
        self.num_classes, self.reg, self.delta = int(num_classes), float(reg), float(delta)
        self.lr, self.epochs, self.batch_size, self.seed = float(lr), int(epochs), int(batch_size), int(seed)
        self.layer = None

    def fit(self, features, y):
        """Standardise the features, then train W, b by SGD with momentum on the hinge loss."""
        f = np.asarray(features, dtype=np.float64)
        self.mean_, self.std_ = f.mean(axis=0), f.std(axis=0) + 1e-8
        data = ArrayDataset(((f - self.mean_) / self.std_).astype(backend.get_default_dtype()), np.asarray(y))
        self.layer = Linear(f.shape[1], self.num_classes, rng=np.random.default_rng(self.seed))
        opt = SGD(self.layer.parameters(), lr=self.lr, momentum=0.9)
        schedule = CosineLR(opt, self.epochs)
        loss_fn, penalty = SVMLoss(self.delta), L2(self.reg)
        loader = DataLoader(data, self.batch_size, seed=self.seed)
        for _ in range(self.epochs):
            for xb, yb in loader:
                opt.zero_grad()
                _, dscores = loss_fn(self.layer.forward(xb), yb)
                self.layer.backward(dscores)
                penalty.apply(self.layer)
                opt.step()
            schedule.step()
        return self

    def decision_function(self, features):
        f = (np.asarray(features, dtype=np.float64) - self.mean_) / self.std_
        return predict_scores(self.layer, f.astype(backend.get_default_dtype()))

    def predict(self, features):
        return self.decision_function(features).argmax(axis=1)

    def score(self, features, y):
        return float((self.predict(features) == np.asarray(y)).mean())
