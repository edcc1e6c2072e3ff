"""The standard gradient-check suite: every layer and loss of glassnet on small float64 inputs."""
from __future__ import annotations

import numpy as np

from .. import backend, nn
from .gradcheck import check_loss, check_module


def _layer_cases(rng):
    """(name, module factory, input) for every layer, sized so a numerical check takes milliseconds."""
    img = rng.standard_normal((2, 3, 6, 5))
    distinct = rng.permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5) / 10.0  # no ties for max pooling
    away_from_kink = np.sign(img) * (np.abs(img) + 0.1)
    seeded = np.random.default_rng(0)
    return [
        ("Linear", lambda: nn.Linear(3 * 6 * 5, 4, rng=seeded), img),
        ("Conv2d stride 1 pad 1", lambda: nn.Conv2d(3, 4, 3, padding=1, rng=seeded), img),
        ("Conv2d stride 2 pad 0 (3x2 kernel)", lambda: nn.Conv2d(3, 2, (3, 2), stride=2, rng=seeded), img),
        ("MaxPool2d 2x2", lambda: nn.MaxPool2d(2), distinct),
        ("MaxPool2d 3x3 stride 2 (overlapping)", lambda: nn.MaxPool2d(3, stride=2), distinct),
        ("AvgPool2d 2x2", lambda: nn.AvgPool2d(2), img),
        ("AvgPool2d 3x3 stride 2 (overlapping)", lambda: nn.AvgPool2d(3, stride=2), img),
        ("GlobalAvgPool2d", nn.GlobalAvgPool2d, img),
        ("Flatten", nn.Flatten, img),
        ("ReLU", nn.ReLU, away_from_kink),
        ("LeakyReLU(0.1)", lambda: nn.LeakyReLU(0.1), away_from_kink),
        ("Sigmoid", nn.Sigmoid, img),
        ("Tanh", nn.Tanh, img),
        ("Softmax", nn.Softmax, rng.standard_normal((4, 5))),
        ("Dropout(p=0.3), fixed mask", lambda: nn.Dropout(0.3, rng=np.random.default_rng(1)), img),
        ("BatchNorm1d (train)", lambda: nn.BatchNorm1d(5), rng.standard_normal((6, 5))),
        ("BatchNorm1d (eval)", lambda: nn.BatchNorm1d(5).eval(), rng.standard_normal((6, 5))),
        ("BatchNorm2d (train)", lambda: nn.BatchNorm2d(3), img),
        ("BatchNorm2d (eval)", lambda: nn.BatchNorm2d(3).eval(), img),
        *_modern_cases(rng, img, seeded),
    ]


def _modern_cases(rng, img, seeded):
    """Dilated, grouped and 1-D convolutions, 1-D pooling and batch norm on (N, C, L), residual blocks."""
    signal = rng.standard_normal((2, 3, 9))
    distinct_signal = rng.permutation(2 * 3 * 9).reshape(2, 3, 9) / 10.0
    return [
        ("Conv2d dilation 2, groups 3", lambda: nn.Conv2d(3, 6, 3, padding=2, dilation=2, groups=3, rng=seeded), img),
        ("Conv1d stride 2 pad 1 dilation 2", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2, rng=seeded),
         signal),
        ("MaxPool1d 3 stride 2 (overlapping)", lambda: nn.MaxPool1d(3, stride=2), distinct_signal),
        ("AvgPool1d 2", lambda: nn.AvgPool1d(2), signal),
        ("GlobalAvgPool1d", nn.GlobalAvgPool1d, signal),
        ("BatchNorm1d on (N, C, L) (train)", lambda: nn.BatchNorm1d(3), signal),
        ("Residual, projection shortcut", lambda: nn.Residual(
            nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=seeded), nn.Tanh()), nn.Conv2d(3, 4, 1, rng=seeded)), img),
        ("Residual, identity shortcut", lambda: nn.Residual(
            nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, rng=seeded), nn.Tanh())), img),
    ]


def _loss_cases(rng):
    scores = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 2, 3])
    probs = rng.uniform(0.05, 0.95, (5, 4))
    targets = rng.uniform(0, 1, (5, 4))
    return [
        ("CrossEntropyLoss", nn.CrossEntropyLoss(), scores, labels),
        ("SVMLoss (delta=1)", nn.SVMLoss(), scores * 3, labels),
        ("BCELoss", nn.BCELoss(), probs, targets),
        ("BCELoss (weighted)", nn.BCELoss(weight=rng.uniform(0.5, 2, (5, 4))), probs, targets),
        ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss(), scores, targets),
        ("MSELoss", nn.MSELoss(), scores, targets),
    ]


class _Reseeding(nn.Module):
    """Wraps a Dropout so every forward draws the same mask (needed for a numerical check)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        self.layer.seed(1)
        return self.layer.forward(x)

    def backward(self, dout):
        return self.layer.backward(dout)


def run_all(seed=0):
    """Gradient-check every layer and loss; return a list of GradcheckResult."""
    rng = np.random.default_rng(seed)
    results = []
    with backend.default_dtype(np.float64):
        for name, factory, x in _layer_cases(rng):
            module = factory()
            if isinstance(module, nn.Dropout):
                module = _Reseeding(module)
            results.append(check_module(module, x, name=name))
        for name, loss_fn, scores, target in _loss_cases(rng):
            results.append(check_loss(loss_fn, scores, target, name=name))
    return results
