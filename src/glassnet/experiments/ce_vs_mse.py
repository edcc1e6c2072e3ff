"""Claim: with a sigmoid output, cross-entropy learns faster than the squared error.

For a = sigma(z) and target t, the output delta is dL/dz = (a - t) for binary cross-entropy but
2 (a - t) sigma'(z) for the squared error: when the output unit is saturated and wrong
(sigma'(z) ~ 0), MSE barely moves while cross-entropy corrects at full speed.

Same network (64 -> 32 ReLU -> 10 sigmoid outputs, one-vs-all digits), same initial weights,
same SGD and learning rate; the output biases start at +SATURATION so that every output says "yes"
with probability ~0.99: saturated, and wrong for 9 classes out of 10.
"""
from __future__ import annotations

import numpy as np

from ..models import mlp
from ..nn import BCELoss, MSELoss, Sigmoid
from .common import (Measured, OneHotTargets, check, digits, figure, fit, fmt, judge, one_hot, pct,
                     save_figure, steps_to_reach)

TITLE = "Cross-entropy vs squared error on sigmoid outputs"
CLAIM = ("With a sigmoid output, cross-entropy learns faster than MSE: its output delta has no sigma'(z) "
         "factor, so saturated wrong outputs still get a large gradient.")

SATURATION = 5.0
"""Initial output bias: sigma(5) = 0.993, sigma'(5) = 0.0066."""
TARGET_ACC = 0.8
"""Speed is measured as the number of steps to reach this validation accuracy."""
MIN_SPEEDUP = 2.0
"""Cross-entropy must reach TARGET_ACC at least this many times sooner (MSE "never" counts as passing)."""
MIN_EARLY_GAP = 0.1
"""After the first epoch, cross-entropy's validation accuracy must lead by this much."""
MIN_DELTA_RATIO = 10.0
"""At init, ||dL/dz|| of the outputs must be this many times larger for cross-entropy."""


def _model(rng):
    model = mlp(64, [32], 10, activation="relu", init="he", rng=rng, output=Sigmoid())
    model[-2].bias.data[...] = SATURATION  # the output Linear: saturate every output at ~0.99
    return model


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    epochs, lr, batch = ctx.pick(10, 30), 1.0, 64
    steps_per_epoch = int(np.ceil(len(splits.train) / batch))
    n = {"epochs": epochs, "lr": lr, "steps_per_epoch": steps_per_epoch, "saturation_bias": SATURATION}
    for key, inner in (("ce", BCELoss()), ("mse", MSELoss())):
        model = _model(ctx.rng("init"))  # the same initial weights for both losses
        loss_fn = OneHotTargets(inner, 10)
        # the output delta at init, on the whole training set: BCE (a - t), MSE 2 (a - t) sigma'(z), per element
        a = model.forward(splits.train.x)
        _, dloss = loss_fn(a, splits.train.y)
        n[f"output_delta_init_{key}"] = float(np.linalg.norm(model[-1].backward(dloss)))
        solver = fit(model, splits.train, epochs=epochs, lr=lr, momentum=0.0, batch_size=batch, loss_fn=loss_fn,
                     seed=ctx.seed_for("fit"), val_set=splits.val)
        n[f"step_loss_{key}"] = solver.step_losses
        n[f"val_acc_{key}"] = solver.history["val_acc"]
        n[f"final_val_acc_{key}"] = solver.history["val_acc"][-1]
        n[f"steps_to_target_{key}"] = steps_to_reach(solver.history["val_acc"], TARGET_ACC, steps_per_epoch)
    n["delta_ratio_init"] = n["output_delta_init_ce"] / n["output_delta_init_mse"]
    n["mean_sigma_prime_output_init"] = float(np.mean(a * (1 - a)))
    n["target_fraction_wrong"] = float(np.mean(np.abs(a - one_hot(splits.train.y, 10)) > 0.5))
    _plot(n, ctx.figure_path)
    setup = (f"MLP 64 -> 32 ReLU -> 10 sigmoid outputs (one-vs-all one-hot targets) on the digits, output biases "
             f"initialised to +{SATURATION:g} (outputs ~{1 / (1 + np.exp(-SATURATION)):.3f}: saturated and wrong "
             f"for 9 of 10 classes). Identical initial weights; SGD lr {lr}, no momentum, batch {batch}, {epochs} epochs; "
             f"BCELoss vs MSELoss (both averaged over all outputs).")
    return Measured(setup, n)


def verdict(n):
    ce, mse = n["steps_to_target_ce"], n["steps_to_target_mse"]
    speedup_ok = ce is not None and (mse is None or mse >= MIN_SPEEDUP * ce)
    early = n["val_acc_ce"][0] - n["val_acc_mse"][0]
    return judge([
        check(n["delta_ratio_init"] >= MIN_DELTA_RATIO,
              f"at init the output delta is {fmt(n['delta_ratio_init'])}x larger with cross-entropy "
              f"(>= {fmt(MIN_DELTA_RATIO)} required; mean sigma'(z) of the outputs {fmt(n['mean_sigma_prime_output_init'])})"),
        check(early >= MIN_EARLY_GAP,
              f"after epoch 1: validation accuracy {pct(n['val_acc_ce'][0])} (CE) vs {pct(n['val_acc_mse'][0])} (MSE), "
              f"a lead of {100 * early:.1f} points (>= {100 * MIN_EARLY_GAP:.0f} required)"),
        check(speedup_ok,
              f"steps to {pct(TARGET_ACC)} validation accuracy: CE {fmt(ce)}, MSE {fmt(mse)} "
              f"(CE at least {fmt(MIN_SPEEDUP)}x sooner required)"),
    ])


def headline(n) -> str:
    return (f"steps to {pct(TARGET_ACC)} val. acc.: CE {fmt(n['steps_to_target_ce'])}, MSE {fmt(n['steps_to_target_mse'])}; "
            f"output delta at init {fmt(n['delta_ratio_init'])}x larger with CE")


def _plot(n, path):
    fig, (ax_loss, ax_acc) = figure(2, title="Saturated sigmoid outputs: cross-entropy vs squared error")
    spe = n["steps_per_epoch"]
    for key, label, color in (("ce", "binary cross-entropy", "tab:blue"), ("mse", "mean squared error", "tab:orange")):
        losses = np.asarray(n[f"step_loss_{key}"])
        ax_loss.plot(np.arange(1, len(losses) + 1), losses / losses[0], color=color, label=label)
        acc = np.asarray(n[f"val_acc_{key}"]) * 100
        ax_acc.plot(np.arange(1, len(acc) + 1) * spe, acc, "o-", color=color, label=label)
    ax_loss.set(xlabel="SGD step", ylabel="training loss / loss at step 1", title="loss (each relative to its start)")
    ax_acc.axhline(100 * TARGET_ACC, color="gray", ls=":", label=f"target {pct(TARGET_ACC)}")
    ax_acc.set(xlabel="SGD step", ylabel="validation accuracy (%)", title="validation accuracy", ylim=(0, 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path)
