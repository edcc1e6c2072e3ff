"""Claim: batch normalisation speeds up convergence and tolerates a larger learning rate.

A deep MLP (10 hidden layers of 64 ReLU units, He init - the best a plain ReLU net can do) with and
without BatchNorm1d after every hidden Linear layer, trained with the same SGD over a grid of
learning rates. Speed: the fewest steps to reach TARGET_ACC validation accuracy over the grid.
Tolerance: the largest learning rate at which the net still ends at >= TRAINS_ACC.
"""
from __future__ import annotations

import numpy as np

from ..models import mlp
from ..train import TrainingDiverged
from .common import Measured, check, digits, figure, fit, fmt, judge, pct, save_figure, steps_to_reach

TITLE = "Batch normalisation: speed and learning-rate tolerance"
CLAIM = "Batch norm speeds up convergence and tolerates a larger learning rate."

LRS = (0.01, 0.03, 0.1, 0.3)
DEPTH, WIDTH, BATCH = 10, 64, 64
TARGET_ACC = 0.9
TRAINS_ACC = 0.85
"""A run "trains" at a learning rate if its final validation accuracy is at least this."""
MIN_SPEEDUP = 1.5
"""Batch norm must reach TARGET_ACC this many times sooner (best learning rate of each)."""
MIN_LR_RATIO = 2.5
"""... and still train at a learning rate at least this many times larger: one step up the grid (~3x),
with room for rounding (3 * 0.1 > 0.3 in floating point)."""


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    epochs = ctx.pick(8, 20)
    steps_per_epoch = int(np.ceil(len(splits.train) / BATCH))
    n = {"lrs": list(LRS), "epochs": epochs, "steps_per_epoch": steps_per_epoch, "depth": DEPTH, "width": WIDTH}
    for key, bn in (("plain", False), ("bn", True)):
        finals, steps, curves = [], [], []
        for lr in LRS:
            model = mlp(64, [WIDTH] * DEPTH, 10, init="he", batchnorm=bn, rng=ctx.rng("init"))
            try:
                with np.errstate(all="ignore"):  # a diverging run overflows before the Solver stops it
                    solver = fit(model, splits.train, epochs=epochs, lr=lr, batch_size=BATCH,
                                 seed=ctx.seed_for("fit"), val_set=splits.val)
                curve = solver.history["val_acc"]
            except TrainingDiverged:
                curve = []
            curves.append(curve)
            finals.append(curve[-1] if curve else None)  # None: the loss became NaN/Inf
            steps.append(steps_to_reach(curve, TARGET_ACC, steps_per_epoch))
        n[f"final_val_acc_{key}"], n[f"steps_to_target_{key}"], n[f"curves_{key}"] = finals, steps, curves
        reached = [s for s in steps if s is not None]
        n[f"best_steps_{key}"] = min(reached) if reached else None
        good = [lr for lr, acc in zip(LRS, finals) if acc is not None and acc >= TRAINS_ACC]
        n[f"max_good_lr_{key}"] = max(good) if good else None
    _plot(n, ctx.figure_path)
    setup = (f"MLP 64 -> {DEPTH} x {WIDTH} ReLU (He init) -> 10 on the digits, with and without BatchNorm1d after each "
             f"hidden Linear; the same initial weights and batches; SGD momentum 0.9, batch {BATCH}, {epochs} epochs at each "
             f"learning rate {', '.join(f'{lr:g}' for lr in LRS)}.")
    return Measured(setup, n)


def verdict(n):
    sp, sb = n["best_steps_plain"], n["best_steps_bn"]
    speed_ok = sb is not None and (sp is None or sp >= MIN_SPEEDUP * sb)
    lp, lb = n["max_good_lr_plain"], n["max_good_lr_bn"]
    lr_ok = lb is not None and (lp is None or lb >= MIN_LR_RATIO * lp)
    return judge([
        check(speed_ok, f"fewest steps to {pct(TARGET_ACC)} validation accuracy over the learning rates: batch norm {fmt(sb)}, "
                        f"plain {fmt(sp)} (batch norm {fmt(MIN_SPEEDUP)}x sooner required)"),
        check(lr_ok, f"largest learning rate still ending at >= {pct(TRAINS_ACC)}: batch norm {fmt(lb)}, plain {fmt(lp)} "
                     f"(>= {fmt(MIN_LR_RATIO)}x required)"),
    ])


def headline(n) -> str:
    return (f"steps to {pct(TARGET_ACC)}: BN {fmt(n['best_steps_bn'])} vs plain {fmt(n['best_steps_plain'])}; "
            f"largest working lr: BN {fmt(n['max_good_lr_bn'])} vs plain {fmt(n['max_good_lr_plain'])}")


def _plot(n, path):
    fig, (ax_lr, ax_curve) = figure(2, title=f"Batch norm in a {n['depth']}-hidden-layer ReLU MLP")
    lrs = np.asarray(n["lrs"])
    styles = {"plain": ("no batch norm", "tab:red"), "bn": ("batch norm", "tab:blue")}
    for key, (label, color) in styles.items():
        finals = n[f"final_val_acc_{key}"]
        acc = np.array([np.nan if a is None else 100 * a for a in finals])
        ax_lr.semilogx(lrs, acc, "o-", color=color, label=label)
        dead = [lr for lr, a in zip(lrs, finals) if a is None]
        if dead:
            ax_lr.semilogx(dead, [0] * len(dead), "x", color=color, ms=10, label=f"{label}: diverged (NaN)")
        spe = n["steps_per_epoch"]
        for lr, curve in zip(lrs, n[f"curves_{key}"]):
            if curve and lr in (n["max_good_lr_plain"], n["max_good_lr_bn"]):
                ls = "-" if lr == n[f"max_good_lr_{key}"] else ":"
                ax_curve.plot(np.arange(1, len(curve) + 1) * spe, np.asarray(curve) * 100, ls, marker="o", ms=3,
                              color=color, label=f"{label}, lr {lr:g}")
    ax_lr.axhline(100 * TRAINS_ACC, color="gray", ls=":", label=f"{pct(TRAINS_ACC)}")
    ax_lr.set(xlabel="learning rate (log scale)", ylabel=f"validation accuracy after {n['epochs']} epochs (%)",
              title="final accuracy vs learning rate", ylim=(-5, 100))
    ax_curve.axhline(100 * TARGET_ACC, color="gray", ls=":", label=f"target {pct(TARGET_ACC)}")
    ax_curve.set(xlabel="SGD step", ylabel="validation accuracy (%)", title="training curves", ylim=(0, 100))
    for ax in (ax_lr, ax_curve):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
