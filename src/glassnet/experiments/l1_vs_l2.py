"""Claim: an L1 penalty drives many weights to (near) zero; an L2 penalty shrinks all weights
without making them sparse.

With plain SGD (learning rate eta) and glassnet's regularizers, one step is
    L2 (penalty 0.5 lambda sum w^2):  w <- (1 - eta lambda) w - eta dC0/dw   (weight decay; lambda is
                                       the textbook's lambda/n)
    L1 (penalty lambda sum |w|):      w <- w - eta lambda sign(w) - eta dC0/dw
L2 removes a fixed *fraction* of each weight, so small weights shrink ever more slowly and never
reach zero; L1 removes a fixed *amount*, which pins weights the data does not need at zero.
"""
from __future__ import annotations

import numpy as np

from ..diagnostics.flow import fraction_below
from ..models import mlp
from ..optim import SGD, regularizer_from
from .common import Measured, accuracy, check, digits, figure, fit, fmt, judge, pct, save_figure

TITLE = "L1 vs L2 regularisation"
CLAIM = ("L1 drives many weights to (near) zero; L2 shrinks weights without sparsity "
         "(weight decay factor 1 - lr*lambda/n per step).")

LR = 0.1
STRENGTHS = {"none": (0.0, 0.0), "l1": (3e-3, 0.0), "l2": (0.0, 3e-2)}
"""(l1, l2) per run; chosen so that the L1 and L2 nets reach about the same validation accuracy."""
ZERO = 1e-3
"""A weight counts as zero when |w| < ZERO."""
MIN_L1_SPARSITY = 0.3
MIN_SPARSITY_RATIO = 5.0
MAX_L2_SPARSITY = 0.05
MAX_L2_MEAN_RATIO = 0.8
"""L2's mean |w| must be at most this fraction of the unregularised net's."""
STEP_TOL = 1e-5


def _weights(model):
    return [p.data for p in model.parameters() if p.data.ndim >= 2]


def one_step_with_zero_data_gradient(model, l1, l2, lr=LR):
    """Apply one SGD step whose only gradient is the regularizer's; return (old, new) weights, flattened."""
    model.zero_grad()
    old = np.concatenate([w.ravel() for w in _weights(model)]).astype(np.float64)
    regularizer_from(l1=l1, l2=l2).apply(model)
    SGD([p for p in model.parameters() if p.data.ndim >= 2], lr).step()
    new = np.concatenate([w.ravel() for w in _weights(model)]).astype(np.float64)
    return old, new


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    epochs = ctx.pick(20, 60)
    n = {"epochs": epochs, "lr": LR, "zero_threshold": ZERO}
    hist_edges, lin_edges = np.linspace(-8, 0, 41), np.linspace(-0.2, 0.2, 81)
    n["hist_edges_log10"], n["hist_edges_linear"] = hist_edges.tolist(), lin_edges.tolist()
    models = {}
    for key, (l1, l2) in STRENGTHS.items():
        model = mlp(64, [64], 10, init="default", rng=ctx.rng("init"))  # the same start for all three
        solver = fit(model, splits.train, epochs=epochs, lr=LR, momentum=0.0, regularizer=regularizer_from(l1=l1, l2=l2),
                     seed=ctx.seed_for("fit"), val_set=splits.val)
        w = np.concatenate([a.ravel() for a in _weights(model)]).astype(np.float64)
        n[f"sparsity_{key}"] = fraction_below(w, ZERO)
        n[f"mean_abs_w_{key}"] = float(np.abs(w).mean())
        n[f"test_acc_{key}"] = accuracy(model, splits.test)
        n[f"val_acc_{key}"] = solver.history["val_acc"][-1]
        n[f"hist_{key}"] = np.histogram(np.log10(np.maximum(np.abs(w), 1e-8)), hist_edges)[0].tolist()
        n[f"hist_linear_{key}"] = np.histogram(np.clip(w, lin_edges[0], lin_edges[-1]), lin_edges)[0].tolist()
        models[key] = model
    l1, l2 = STRENGTHS["l1"][0], STRENGTHS["l2"][1]
    n["l1_strength"], n["l2_strength"] = l1, l2
    old, new = one_step_with_zero_data_gradient(models["l2"], 0.0, l2)
    keep = old != 0
    n["l2_step_factor_formula"] = 1 - LR * l2
    n["l2_step_factor_measured"] = float(np.median(new[keep] / old[keep]))
    n["l2_step_factor_max_dev"] = float(np.max(np.abs(new[keep] / old[keep] - n["l2_step_factor_formula"])))
    old, new = one_step_with_zero_data_gradient(models["l1"], l1, 0.0)
    n["l1_step_formula"] = LR * l1
    n["l1_step_max_dev"] = float(np.max(np.abs((old - new) - LR * l1 * np.sign(old))))
    _plot(n, ctx.figure_path)
    setup = (f"MLP 64 -> 64 ReLU -> 10 on the digits, the same initial weights, plain SGD lr {LR} (no momentum), "
             f"batch 64, {epochs} epochs: no penalty, L1 (lambda {l1:g}) and L2 (lambda {l2:g}) on the weights. "
             f"Then one SGD step whose only gradient is the penalty's checks the update rules.")
    return Measured(setup, n)


def verdict(n):
    ratio = n["sparsity_l1"] / max(n["sparsity_l2"], 1e-12)
    return judge([
        check(n["sparsity_l1"] >= MIN_L1_SPARSITY and ratio >= MIN_SPARSITY_RATIO,
              f"|w| < {fmt(n['zero_threshold'])}: L1 {pct(n['sparsity_l1'])} of weights (>= {pct(MIN_L1_SPARSITY)} required), "
              f"{fmt(ratio)}x L2's {pct(n['sparsity_l2'])} (>= {fmt(MIN_SPARSITY_RATIO)}x required)"),
        check(n["mean_abs_w_l2"] <= MAX_L2_MEAN_RATIO * n["mean_abs_w_none"] and n["sparsity_l2"] <= MAX_L2_SPARSITY,
              f"L2 shrinks: mean |w| {fmt(n['mean_abs_w_l2'])} vs {fmt(n['mean_abs_w_none'])} unregularised "
              f"(<= {fmt(MAX_L2_MEAN_RATIO)}x required) with only {pct(n['sparsity_l2'])} near zero "
              f"(<= {pct(MAX_L2_SPARSITY)} required)"),
        check(n["l2_step_factor_max_dev"] <= STEP_TOL and n["l1_step_max_dev"] <= STEP_TOL,
              f"one step: L2 multiplies every weight by {n['l2_step_factor_measured']:.6f} (1 - lr*lambda = "
              f"{n['l2_step_factor_formula']:.6f}, largest deviation {fmt(n['l2_step_factor_max_dev'])}); L1 subtracts "
              f"lr*lambda*sign(w) = {fmt(n['l1_step_formula'])} (largest deviation {fmt(n['l1_step_max_dev'])}; "
              f"<= {fmt(STEP_TOL)} required)"),
    ])


def headline(n) -> str:
    return (f"|w| < {fmt(n['zero_threshold'])}: L1 {pct(n['sparsity_l1'])}, L2 {pct(n['sparsity_l2'])}, "
            f"none {pct(n['sparsity_none'])}")


def _plot(n, path):
    fig, (ax_lin, ax_log) = figure(2, width=5.5, title="Weights after training: L1 vs L2")
    runs = (("none", "no penalty", "gray"), ("l1", f"L1, lambda {n['l1_strength']:g}", "tab:red"),
            ("l2", f"L2, lambda {n['l2_strength']:g}", "tab:blue"))
    for ax, key_hist, key_edges in ((ax_lin, "hist_linear", "hist_edges_linear"), (ax_log, "hist", "hist_edges_log10")):
        edges = np.asarray(n[key_edges])
        centers = (edges[:-1] + edges[1:]) / 2
        for key, label, color in runs:
            ax.step(centers, n[f"{key_hist}_{key}"], where="mid", color=color,
                    label=f"{label}: {pct(n[f'sparsity_{key}'])} below {fmt(n['zero_threshold'])}, "
                          f"test {pct(n[f'test_acc_{key}'])}")
    ax_lin.set_yscale("log")
    ax_lin.set(xlabel="w (clipped to [-0.2, 0.2])", ylabel="number of weights (log scale)", title="histogram of w")
    ax_log.axvline(np.log10(n["zero_threshold"]), color="k", ls=":", label=f"|w| = {fmt(n['zero_threshold'])}")
    ax_log.set(xlabel="log10 |w|  (|w| < 1e-8 shown at -8)", ylabel="number of weights", title="histogram of log10 |w|")
    for ax in (ax_lin, ax_log):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
