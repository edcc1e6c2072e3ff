"""Claim: ReLU networks have sparse activations - many units output exactly zero - while sigmoid
units are "on" about half of the time; 15-30 % active units is considered ideal for ReLU nets.

A unit is *active* on an input when its pre-activation z is positive (ReLU output > 0, sigmoid
output > 1/2), the same criterion for both. Two MLPs of 3 hidden layers (ReLU + He init, sigmoid +
Xavier init) are trained the same way; the active fraction of every hidden layer is measured on the
test digits with :func:`glassnet.diagnostics.flow.activation_sparsity`, at initialisation and after
training.
"""
from __future__ import annotations

import numpy as np

from ..diagnostics.flow import activation_sparsity
from ..models import mlp
from .common import Measured, accuracy, check, digits, figure, fit, judge, pct, save_figure

TITLE = "Activation sparsity: ReLU vs sigmoid"
CLAIM = ("About 50 % of sigmoid units are active on an input; ReLU nets are sparser, "
         "15-30 % active units being considered ideal.")

SIGMOID_RANGE = (0.4, 0.6)
RELU_RANGE = (0.15, 0.30)
DEPTH, WIDTH = 3, 128
NETS = {"relu": ("relu", "he"), "sigmoid": ("sigmoid", "xavier")}


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    epochs = ctx.pick(10, 30)
    n = {"epochs": epochs, "depth": DEPTH, "width": WIDTH}
    for key, (act, init) in NETS.items():
        model = mlp(64, [WIDTH] * DEPTH, 10, activation=act, init=init, rng=ctx.rng(key))
        stats = activation_sparsity(model, splits.test.x)
        n[f"active_init_{key}"] = [s["active"] for s in stats.values()]
        fit(model, splits.train, epochs=epochs, lr=1e-3, optimizer="adam", seed=ctx.seed_for(key, "fit"))
        stats = activation_sparsity(model, splits.test.x)
        n[f"active_{key}"] = [s["active"] for s in stats.values()]
        n[f"zero_{key}"] = [s["zero"] for s in stats.values()]
        n[f"mean_active_{key}"] = float(np.mean(n[f"active_{key}"]))
        n[f"mean_zero_{key}"] = float(np.mean(n[f"zero_{key}"]))
        n[f"test_acc_{key}"] = accuracy(model, splits.test)
    _plot(n, ctx.figure_path)
    setup = (f"MLP 64 -> {DEPTH} x {WIDTH} -> 10 on the digits, ReLU (He init) and sigmoid (Xavier init), Adam lr 1e-3, "
             f"batch 64, {epochs} epochs. Active = pre-activation > 0, measured per hidden layer on the 360 test digits.")
    return Measured(setup, n)


def verdict(n):
    (slo, shi), (rlo, rhi) = SIGMOID_RANGE, RELU_RANGE
    per_layer = ", ".join(pct(a) for a in n["active_relu"])
    return judge([
        check(slo <= n["mean_active_sigmoid"] <= shi,
              f"sigmoid: {pct(n['mean_active_sigmoid'])} of units active on average "
              f"(within [{pct(slo)}, {pct(shi)}] required, i.e. ~50 %); none output exactly 0 ({pct(n['mean_zero_sigmoid'])})"),
        check(n["mean_active_relu"] < n["mean_active_sigmoid"],
              f"ReLU is sparser: {pct(n['mean_active_relu'])} active vs {pct(n['mean_active_sigmoid'])} for sigmoid; "
              f"{pct(n['mean_zero_relu'])} of ReLU outputs are exactly 0"),
        check(rlo <= n["mean_active_relu"] <= rhi,
              f"ReLU after training: {pct(n['mean_active_relu'])} active on average (per layer {per_layer}; "
              f"within the 'ideal' [{pct(rlo)}, {pct(rhi)}] required)"),
    ])


def headline(n) -> str:
    return f"active units: ReLU {pct(n['mean_active_relu'])}, sigmoid {pct(n['mean_active_sigmoid'])}"


def _plot(n, path):
    fig, (ax,) = figure(width=7, height=4.2, title=f"Active units per hidden layer after {n['epochs']} epochs (test digits)")
    layers = np.arange(1, len(n["active_relu"]) + 1)
    ax.axhspan(100 * RELU_RANGE[0], 100 * RELU_RANGE[1], color="tab:blue", alpha=0.12, label="'ideal' ReLU range 15-30 %")
    ax.axhline(50, color="tab:red", ls=":", label="50 %")
    for off, key, label, color in ((-0.2, "relu", "ReLU + He", "tab:blue"), (0.2, "sigmoid", "sigmoid + Xavier", "tab:red")):
        ax.bar(layers + off, 100 * np.asarray(n[f"active_{key}"]), 0.4, color=color,
               label=f"{label} (test acc. {pct(n[f'test_acc_{key}'])})")
        ax.plot(layers + off, 100 * np.asarray(n[f"active_init_{key}"]), "k_", ms=14, mew=2)
    ax.plot([], [], "k_", ms=14, mew=2, label="at initialisation")
    ax.set(xlabel="hidden layer", ylabel="active units: pre-activation > 0 (%)", xticks=layers, ylim=(0, 100))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    save_figure(fig, path)
