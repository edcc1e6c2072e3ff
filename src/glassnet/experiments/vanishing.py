"""Claim: in a deep MLP, sigmoid makes gradients shrink layer by layer towards the input (each
sigmoid multiplies the backward signal by sigma'(z) <= 1/4); ReLU with He initialisation does not.

Two MLPs of the same depth and width on the digits, sigmoid (Xavier init, the standard one for
sigmoid) and ReLU (He init). The norm of each Linear layer's weight gradient, ||dL/dW_l||, is
measured on one fixed batch at initialisation and again after the same SGD training.
"""
from __future__ import annotations

import numpy as np

from ..diagnostics.flow import gradient_flow, trace_forward
from ..models import mlp
from ..nn import CrossEntropyLoss, Sigmoid
from .common import Measured, check, digits, figure, fit, fmt, judge, save_figure, subset

TITLE = "Vanishing gradients: sigmoid vs ReLU"
CLAIM = ("In a deep MLP, sigmoid makes gradients shrink layer by layer towards the input "
         "(sigma' <= 1/4); ReLU with He initialisation does not.")

SIGMOID_MAX_RATIO = 1e-2
"""The sigmoid net's first-layer gradient must be at least 100x smaller than its last layer's."""
RELU_RATIO_RANGE = (0.1, 10.0)
"""ReLU + He: first and last layer's gradients within a factor 10 of each other."""
MIN_SHRINKING_PAIRS = 0.8
"""Share of consecutive layer pairs in which the sigmoid gradient shrinks going towards the input."""

NETS = {"sigmoid": ("sigmoid", "xavier"), "relu": ("relu", "he")}
LR = 0.01
"""SGD learning rate (momentum 0.9) for both nets; at 0.05 the deep ReLU net diverges within 20 epochs."""


def _flow(model, batch):
    loss_fn = CrossEntropyLoss()
    norms = list(gradient_flow(model, loss_fn, *batch)["weight_grad"].values())
    _, trace = trace_forward(model, batch[0])
    sig = [out for _, layer, _, out in trace if isinstance(layer, Sigmoid)]
    sigma_prime = float(np.mean([np.mean(o * (1 - o)) for o in sig])) if sig else None
    return norms, sigma_prime


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    depth, width, epochs = 10, ctx.pick(64, 128), ctx.pick(3, 20)
    probe = subset(splits.train, 256, ctx.seed_for("probe"))
    batch = (probe.x, probe.y)
    n = {"depth": depth, "width": width, "epochs": epochs}
    for key, (act, init) in NETS.items():
        model = mlp(64, [width] * depth, 10, activation=act, init=init, rng=ctx.rng(key))
        n[f"grad_init_{key}"], sp_init = _flow(model, batch)
        solver = fit(model, splits.train, epochs=epochs, lr=LR, seed=ctx.seed_for(key, "fit"), val_set=splits.val)
        n[f"grad_trained_{key}"], _ = _flow(model, batch)
        n[f"val_acc_{key}"] = solver.history["val_acc"][-1]
        for stage in ("init", "trained"):
            g = n[f"grad_{stage}_{key}"]
            n[f"ratio_{stage}_{key}"] = g[0] / g[-1]
        if sp_init is not None:
            n["mean_sigma_prime_init"] = sp_init
    g = np.asarray(n["grad_init_sigmoid"][:-1])  # hidden layers only: each step back crosses one sigmoid
    n["shrinking_pairs_sigmoid"] = float(np.mean(g[:-1] < g[1:]))
    n["shrink_per_layer_sigmoid"] = float(np.exp(np.mean(np.log(g[:-1] / g[1:]))))
    _plot(n, ctx.figure_path)
    setup = (f"Two MLPs 64 -> {depth} x {width} hidden -> 10 on the digits: sigmoid + Xavier init and ReLU + He init. "
             f"||dL/dW|| of every Linear layer on one fixed batch of 256 training images, at initialisation and "
             f"after {epochs} epochs of SGD (lr {LR:g}, momentum 0.9, batch 64) with cross-entropy.")
    return Measured(setup, n)


def verdict(n):
    lo, hi = RELU_RATIO_RANGE
    return judge([
        check(n["ratio_init_sigmoid"] < SIGMOID_MAX_RATIO,
              f"sigmoid at init: ||dW_first|| / ||dW_last|| = {fmt(n['ratio_init_sigmoid'])} "
              f"(< {fmt(SIGMOID_MAX_RATIO)} required)"),
        check(n["shrinking_pairs_sigmoid"] >= MIN_SHRINKING_PAIRS,
              f"sigmoid at init: the gradient shrinks from layer to layer towards the input in "
              f"{100 * n['shrinking_pairs_sigmoid']:.0f} % of hidden-layer pairs "
              f"(>= {100 * MIN_SHRINKING_PAIRS:.0f} % required); mean shrink factor per layer "
              f"{fmt(n['shrink_per_layer_sigmoid'])}, mean sigma'(z) {fmt(n.get('mean_sigma_prime_init'))}"),
        check(lo <= n["ratio_init_relu"] <= hi,
              f"ReLU + He at init: ratio = {fmt(n['ratio_init_relu'])} (within [{fmt(lo)}, {fmt(hi)}] required)"),
        check(n["ratio_trained_sigmoid"] < SIGMOID_MAX_RATIO and lo <= n["ratio_trained_relu"] <= hi,
              f"after training: sigmoid ratio {fmt(n['ratio_trained_sigmoid'])} (< {fmt(SIGMOID_MAX_RATIO)}), "
              f"ReLU ratio {fmt(n['ratio_trained_relu'])} (within [{fmt(lo)}, {fmt(hi)}])"),
    ])


def headline(n) -> str:
    return (f"first/last layer gradient: sigmoid {fmt(n['ratio_init_sigmoid'])}, ReLU {fmt(n['ratio_init_relu'])} "
            f"(at init)")


def _plot(n, path):
    fig, (ax,) = figure(width=7, height=4.2, title=f"Gradient norm per layer, {n['depth']} hidden layers of {n['width']}")
    layers = np.arange(1, len(n["grad_init_sigmoid"]) + 1)
    for key, color in (("sigmoid", "tab:red"), ("relu", "tab:blue")):
        label = "sigmoid + Xavier" if key == "sigmoid" else "ReLU + He"
        ax.semilogy(layers, n[f"grad_init_{key}"], "o-", color=color, label=f"{label}, at init")
        ax.semilogy(layers, n[f"grad_trained_{key}"], "s--", color=color, alpha=0.7,
                    label=f"{label}, after {n['epochs']} epochs")
    ax.set(xlabel="Linear layer (1 = next to the input)", ylabel="||dL/dW|| (log scale)", xticks=layers)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_figure(fig, path)
