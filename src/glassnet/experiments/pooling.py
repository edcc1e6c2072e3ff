"""Claim: pooling makes features approximately invariant to small translations of the input, the
more so the larger the pooling region; max pooling is the usual choice over mean pooling.

Two small CNNs, identical but for their pooling (max or mean), are trained on the digits. Shifting
the test digits by 1 or 2 pixels (filling with the background), we measure the relative change
||f(shifted x) - f(x)|| / ||f(x)|| of the first conv layer's ReLU maps before pooling, after 2x2
pooling and after global pooling (max and mean, on the max-pool net's maps), and the test accuracy
of both nets on shifted digits.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..train import predict_scores
from .common import Measured, accuracy, check, digits, figure, fit, judge, pct, save_figure

TITLE = "Pooling and translation invariance: max vs mean"
CLAIM = ("Pooling makes features approximately invariant to small shifts of the input (more so over larger regions); "
         "max pooling works at least as well as mean pooling.")

SHIFTS = (1, 2)
DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))
MAX_ACC_DEFICIT = 0.01
"""The max-pool net's test accuracy may trail the mean-pool net's by at most this much."""
STAGES = ("conv (no pooling)", "2x2 max pool", "2x2 mean pool", "global max pool", "global mean pool")


def cnn(pool, rng):
    """conv3x3(16) -> ReLU -> pool 2 -> conv3x3(32) -> ReLU -> pool 2 -> FC(10), for 1x8x8 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, init="he", rng=rng), nn.ReLU(), pool(2),
        nn.Conv2d(16, 32, 3, padding=1, init="he", rng=rng), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, rng=rng))


def shift(x, dy, dx, fill):
    """Translate images (N, C, H, W) by (dy, dx) pixels, filling the uncovered border with ``fill``."""
    out = np.full_like(x, fill)
    h, w = x.shape[2:]
    rows_to, cols_to = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    rows_from, cols_from = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[:, :, rows_to, cols_to] = x[:, :, rows_from, cols_from]
    return out


def stage_features(conv_maps):
    """Each stage of STAGES applied to the first conv layer's ReLU maps, flattened per image."""
    g = conv_maps.reshape(*conv_maps.shape[:2], -1)
    feats = (conv_maps, F.max_pool_forward(conv_maps)[0], F.avg_pool_forward(conv_maps)[0], g.max(axis=2), g.mean(axis=2))
    return [f.reshape(len(f), -1).astype(np.float64) for f in feats]


def relative_change(a, b) -> float:
    """Mean over images of ||a - b|| / ||a||."""
    return float(np.mean(np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(a, axis=1), 1e-12)))


def run(ctx) -> Measured:
    splits = digits(ctx.seed)
    epochs = ctx.pick(8, 25)
    x, y = splits.test.x, splits.test.y
    background = float(-splits.mean[0] / splits.std[0])  # a raw 0 pixel, normalised
    n = {"epochs": epochs, "shifts": [0, *SHIFTS], "stages": list(STAGES)}
    nets = {}
    for key, pool in (("max", nn.MaxPool2d), ("mean", nn.AvgPool2d)):
        model = cnn(pool, ctx.rng("init"))  # the same initial weights for both
        fit(model, splits.train, epochs=epochs, lr=1e-3, optimizer="adam", seed=ctx.seed_for("fit"))
        nets[key] = model
        n[f"test_acc_{key}"] = [accuracy(model, splits.test)]
    first_conv = nn.Sequential(*list(nets["max"])[:2])
    base = stage_features(predict_scores(first_conv, x))
    changes = {stage: [0.0] for stage in STAGES}
    for s in SHIFTS:
        shifted = [shift(x, dy * s, dx * s, background) for dy, dx in DIRECTIONS]
        moved = [stage_features(predict_scores(first_conv, xs)) for xs in shifted]
        for i, stage in enumerate(STAGES):
            changes[stage].append(float(np.mean([relative_change(base[i], m[i]) for m in moved])))
        for key, model in nets.items():
            n[f"test_acc_{key}"].append(float(np.mean([(predict_scores(model, xs).argmax(1) == y).mean() for xs in shifted])))
    n["input_change"] = [0.0] + [float(np.mean([relative_change(x.reshape(len(x), -1).astype(np.float64),
                                                                 shift(x, dy * s, dx * s, background).reshape(len(x), -1))
                                                for dy, dx in DIRECTIONS])) for s in SHIFTS]
    n["feature_change"] = changes
    _plot(n, ctx.figure_path)
    setup = (f"CNN conv3x3(16) -> ReLU -> pool2 -> conv3x3(32) -> ReLU -> pool2 -> FC(10), with max or with mean pooling, "
             f"the same initial weights, Adam lr 1e-3, {epochs} epochs on the digits. Test digits shifted by 1 and 2 px "
             f"in 4 directions (border filled with the background); features: first conv layer's ReLU maps of the max-pool net.")
    return Measured(setup, n)


def verdict(n):
    c = n["feature_change"]
    at1 = {stage: c[stage][1] for stage in STAGES}
    conv, mx2, mn2, gmx, gmn = (at1[s] for s in STAGES)
    acc_max, acc_mean = n["test_acc_max"][0], n["test_acc_mean"][0]
    return judge([
        check(mx2 < conv and mn2 < conv,
              f"1 px shift: features change by {pct(conv)} before pooling, {pct(mx2)} after 2x2 max pooling, "
              f"{pct(mn2)} after 2x2 mean pooling (both below the unpooled change required)"),
        check(gmx < mx2 and gmn < mn2,
              f"larger regions are more invariant: global max {pct(gmx)} < 2x2 max {pct(mx2)}, "
              f"global mean {pct(gmn)} < 2x2 mean {pct(mn2)} (required)"),
        check(acc_max >= acc_mean - MAX_ACC_DEFICIT,
              f"test accuracy, max-pool net {pct(acc_max)} vs mean-pool net {pct(acc_mean)} (max may trail by at most "
              f"{100 * MAX_ACC_DEFICIT:.0f} point); on 1 px shifts {pct(n['test_acc_max'][1])} vs {pct(n['test_acc_mean'][1])}, "
              f"on 2 px shifts {pct(n['test_acc_max'][2])} vs {pct(n['test_acc_mean'][2])}"),
    ])


def headline(n) -> str:
    c = n["feature_change"]
    return (f"1 px shift changes features by {pct(c[STAGES[0]][1])} unpooled, {pct(c[STAGES[1]][1])} after 2x2 max, "
            f"{pct(c[STAGES[3]][1])} after global max")


def _plot(n, path):
    fig, (ax_feat, ax_acc) = figure(2, title="Pooling and small translations")
    shifts = n["shifts"]
    ax_feat.plot(shifts, 100 * np.asarray(n["input_change"]), "k:", marker="x", label="input pixels")
    styles = dict(zip(STAGES, (("tab:gray", "-"), ("tab:red", "-"), ("tab:blue", "-"), ("tab:red", "--"), ("tab:blue", "--"))))
    for stage, (color, ls) in styles.items():
        ax_feat.plot(shifts, 100 * np.asarray(n["feature_change"][stage]), ls, marker="o", color=color, label=stage)
    ax_feat.set(xlabel="shift (pixels)", ylabel="relative change of the features (%)", xticks=shifts,
                title="first conv layer's maps, max-pool net")
    for key, label, color in (("max", "max pooling", "tab:red"), ("mean", "mean pooling", "tab:blue")):
        ax_acc.plot(shifts, 100 * np.asarray(n[f"test_acc_{key}"]), "o-", color=color, label=f"CNN with {label}")
    ax_acc.set(xlabel="shift (pixels)", ylabel="test accuracy (%)", xticks=shifts, title="whole network", ylim=(0, 100))
    for ax in (ax_feat, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path)
