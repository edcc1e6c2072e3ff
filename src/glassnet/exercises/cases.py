"""Grading cases: for each exercise, the inputs its answers are compared on.

Each case is chosen to catch a real mistake: stride > 1 and padding (conv), odd sizes and windows
that miss the border, overlapping windows (stride < size: ``=`` instead of ``+=``), ties in max
pooling, exact zeros for ReLU, very large logits and inputs (overflow), train and eval mode, a
non-default momentum or slope (a hard-coded default). Arrays are float64 here; the grader casts
them to float32 for the dtype check. Cases marked ``gradcheck=False`` sit on a kink (ties, zeros,
overflowing values) where central differences mean nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class Seed(int):
    """An argument that becomes a fresh ``numpy.random.Generator`` seeded with this value at each call."""


@dataclass(frozen=True)
class Case:
    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    grad_args: tuple = (0,)   # positions of the inputs the backward returns gradients for, in order
    gradcheck: bool = True


@dataclass(frozen=True)
class Spec:
    """How an exercise is graded.

    kind: ``layer`` (forward/backward pair), ``loss`` (one call returning (loss, grad)),
    ``net`` (two_layer_net_loss) or ``step`` (an optimizer step applied ``len(dws)`` times).
    """

    kind: str
    functions: tuple
    grad_names: tuple
    cases: tuple


def materialize(value, dtype=np.float64):
    """A fresh copy of a case argument: float arrays in ``dtype``, dicts copied, Seed -> Generator."""
    if isinstance(value, Seed):
        return np.random.default_rng(int(value))
    if isinstance(value, np.ndarray):
        return value.astype(dtype) if value.dtype.kind == "f" else value.copy()
    if isinstance(value, dict):
        return {k: materialize(v, dtype) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v, dtype) for v in value]
    return value


def _away_from_zero(a):
    return np.sign(a) * (np.abs(a) + 0.1) + (a == 0) * 0.1


def _distinct(rng, shape):
    """Values without ties (a permutation), so each window has one maximum."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0


def _layer(name, grad_names, cases):
    return Spec("layer", (f"{name}_forward", f"{name}_backward"), grad_names, tuple(cases))


def _specs():
    rng = np.random.default_rng(20261203)
    r = rng.standard_normal
    specs = {}

    specs["affine"] = _layer("affine", ("dx", "dw", "db"), [
        Case("x (2, 3, 4) flattened, M=5", (r((2, 3, 4)), r((12, 5)), r(5)), grad_args=(0, 1, 2)),
        Case("x (3, 6), M=4", (r((3, 6)), r((6, 4)), r(4)), grad_args=(0, 1, 2)),
    ])

    with_zeros = r((4, 6))
    with_zeros[0, :3] = 0.0
    specs["relu"] = _layer("relu", ("dx",), [
        Case("x (3, 2, 4, 4)", (_away_from_zero(r((3, 2, 4, 4))),)),
        Case("exact zeros in x", (with_zeros,), gradcheck=False),
    ])
    specs["leaky_relu"] = _layer("leaky_relu", ("dx",), [
        Case("slope=0.2", (_away_from_zero(r((4, 5))),), {"slope": 0.2}),
        Case("default slope, x (2, 3, 4, 4)", (_away_from_zero(r((2, 3, 4, 4))),)),
    ])
    specs["sigmoid"] = _layer("sigmoid", ("dx",), [
        Case("x (4, 5)", (3 * r((4, 5)),)),
        Case("very large |x|", (np.array([[-1000.0, -60.0, -5.0, 0.0], [5.0, 60.0, 1000.0, 2.0]]),), gradcheck=False),
    ])

    specs["conv"] = _layer("conv", ("dx", "dw", "db"), [
        Case("stride=1, pad=1, x (2, 3, 5, 5), w (4, 3, 3, 3)", (r((2, 3, 5, 5)), r((4, 3, 3, 3)), r(4)),
             {"stride": 1, "pad": 1}, grad_args=(0, 1, 2)),
        Case("stride=2, pad=1, x (2, 2, 7, 6), w (3, 2, 3, 3): overlapping windows",
             (r((2, 2, 7, 6)), r((3, 2, 3, 3)), r(3)), {"stride": 2, "pad": 1}, grad_args=(0, 1, 2)),
        Case("stride=2, pad=0, x (1, 2, 5, 6), w (2, 2, 2, 3): odd sizes",
             (r((1, 2, 5, 6)), r((2, 2, 2, 3)), r(2)), {"stride": 2, "pad": 0}, grad_args=(0, 1, 2)),
        Case("defaults, x (2, 1, 4, 4), w (1, 1, 3, 3)", (r((2, 1, 4, 4)), r((1, 1, 3, 3)), r(1)),
             grad_args=(0, 1, 2)),
    ])

    ties = rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64)
    specs["max_pool"] = _layer("max_pool", ("dx",), [
        Case("size=2, stride=2, x (2, 3, 4, 6)", (_distinct(rng, (2, 3, 4, 6)),)),
        Case("size=3, stride=2, x (1, 2, 7, 7): overlapping windows", (_distinct(rng, (1, 2, 7, 7)),),
             {"size": 3, "stride": 2}),
        Case("size=3, stride=2, x (1, 1, 6, 8): windows miss the border", (_distinct(rng, (1, 1, 6, 8)),),
             {"size": 3, "stride": 2}),
        Case("size=2, stride=2, ties", (ties,), gradcheck=False),
        Case("size=3, stride=1, ties and overlapping windows", (ties,), {"size": 3, "stride": 1}, gradcheck=False),
    ])
    specs["avg_pool"] = _layer("avg_pool", ("dx",), [
        Case("size=2, stride=2, x (2, 3, 4, 6)", (r((2, 3, 4, 6)),)),
        Case("size=3, stride=2, x (1, 2, 7, 7): overlapping windows", (r((1, 2, 7, 7)),), {"size": 3, "stride": 2}),
        Case("size=3, stride=2, x (1, 1, 6, 8): windows miss the border", (r((1, 1, 6, 8)),),
             {"size": 3, "stride": 2}),
    ])
    specs["global_avg_pool"] = _layer("global_avg_pool", ("dx",), [
        Case("x (2, 3, 4, 5)", (r((2, 3, 4, 5)),)),
        Case("x (1, 2, 3, 3)", (r((1, 2, 3, 3)),)),
    ])

    def running(c):
        return {"mean": r(c), "var": rng.uniform(0.5, 2.0, c)}

    bn = (0, 1, 2)
    specs["batchnorm"] = _layer("batchnorm", ("dx", "dgamma", "dbeta"), [
        Case("train, x (6, 4)", (2 * r((6, 4)) + 1, r(4), r(4), running(4), True), grad_args=bn),
        Case("train, x (3, 2, 4, 3), momentum=0.3", (r((3, 2, 4, 3)) - 2, r(2), r(2), running(2), True),
             {"momentum": 0.3}, grad_args=bn),
        Case("eval, x (5, 3)", (r((5, 3)), r(3), r(3), running(3), False), grad_args=bn),
        Case("eval, x (2, 3, 2, 2)", (r((2, 3, 2, 2)), r(3), r(3), running(3), False), grad_args=bn),
    ])

    specs["dropout"] = _layer("dropout", ("dx",), [
        Case("train, p=0.3, x (40, 50)", (_away_from_zero(r((40, 50))), 0.3, True, Seed(5)), gradcheck=False),
        Case("train, p=0.6, x (3, 4, 5)", (_away_from_zero(r((3, 4, 5))), 0.6, True, Seed(6))),
        Case("eval, p=0.3", (_away_from_zero(r((4, 5))), 0.3, False, Seed(7))),
    ])

    def labels(n, c):
        return rng.integers(0, c, n)

    specs["softmax_loss"] = Spec("loss", ("softmax_loss",), ("dscores",), (
        Case("N=5, C=4", (r((5, 4)), labels(5, 4))),
        Case("very large scores (around 1000)", (1000 + 5 * r((4, 3)), labels(4, 3)), gradcheck=False),
    ))
    specs["svm_loss"] = Spec("loss", ("svm_loss",), ("dscores",), (
        Case("N=6, C=5", (2 * r((6, 5)), labels(6, 5))),
        Case("N=4, C=3, delta=0.5", (r((4, 3)), labels(4, 3)), {"delta": 0.5}),
    ))
    specs["bce_loss"] = Spec("loss", ("bce_loss",), ("dprobs",), (
        Case("probs (4, 3)", (rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3)))),
        Case("probs (5, 2) with weight", (rng.uniform(0.05, 0.95, (5, 2)), rng.integers(0, 2, (5, 2)) * 1.0),
             {"weight": rng.uniform(0.5, 2.0, (5, 2))}),
    ))
    specs["mse_loss"] = Spec("loss", ("mse_loss",), ("dpred",), (
        Case("pred (4, 3)", (r((4, 3)), r((4, 3)))),
        Case("pred (2, 3, 2)", (r((2, 3, 2)), r((2, 3, 2)))),
    ))

    def params(d, h, c):
        return {"W1": 0.5 * r((d, h)), "b1": 0.1 * r(h), "W2": 0.5 * r((h, c)), "b2": 0.1 * r(c)}

    specs["two_layer_net"] = Spec("net", ("two_layer_net_loss",), ("W1", "b1", "W2", "b2"), (
        Case("N=4, D=5, H=6, C=3, reg=0", (params(5, 6, 3), r((4, 5)), labels(4, 3)), {"reg": 0.0}),
        Case("N=5, D=4, H=7, C=3, reg=0.3", (params(4, 7, 3), r((5, 4)), labels(5, 3)), {"reg": 0.3}),
    ))

    specs["sgd_momentum"] = Spec("step", ("sgd_momentum",), (), (
        Case("3 steps, lr=0.1, momentum=0.8", (r((3, 4)), [r((3, 4)) for _ in range(3)], {"lr": 0.1, "momentum": 0.8})),
        Case("3 steps, config=None (defaults)", (r(5), [r(5) for _ in range(3)], None)),
    ))
    specs["adam"] = Spec("step", ("adam",), (), (
        Case("3 steps, lr=0.01, small gradients", (r((3, 4)), [1e-3 * r((3, 4)) for _ in range(3)], {"lr": 0.01})),
        Case("3 steps, config=None (defaults)", (r(5), [r(5) for _ in range(3)], None)),
    ))
    return specs


SPECS = _specs()
