"""Claim: a fully connected layer is a convolution whose kernel covers its whole input (VGG-16's
7x7x512 -> 4096 FC6 is a conv with 4096 filters of 7x7x512), and a 1x1 convolution is a fully
connected layer applied at every position; a global-average-pooling head needs far fewer
parameters than an FC head.

Shown exactly on a small case in float64 with glassnet's own layers (``Linear.as_conv2d``), and
counted analytically for VGG-16 (configuration D, 224x224x3 inputs, 1000 classes).
"""
from __future__ import annotations

import numpy as np

from .. import backend, nn
from .common import Measured, check, figure, fmt, judge, patch, save_figure

TITLE = "Fully connected layers as convolutions"
CLAIM = ("An FC layer equals a conv whose kernel covers the whole input (7x7x512 -> 4096 in VGG-16); a 1x1 conv "
         "equals an FC layer per position; a global-average-pooling head has far fewer parameters than an FC head.")

TOL = 1e-6
MIN_HEAD_RATIO = 100.0
"""VGG-16's FC head must have at least this many times the parameters of a GAP head."""
VGG16_CONVS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
C, H, W, F = 8, 3, 3, 16
"""The small case: an FC layer from an 8x3x3 feature map to 16 units."""


def vgg16_counts(num_classes=1000) -> dict:
    """Parameter counts (weights + biases) of VGG-16's parts, by formula."""
    trunk, c = 0, 3
    for v in VGG16_CONVS:
        if v != "M":
            trunk += 3 * 3 * c * v + v
            c = v
    fc6 = 7 * 7 * 512 * 4096 + 4096
    return {"trunk": trunk, "fc6": fc6, "fc6_as_conv": 4096 * (512 * 7 * 7) + 4096, "fc7": 4096 * 4096 + 4096,
            "fc8": 4096 * num_classes + num_classes, "gap_head": 512 * num_classes + num_classes}


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(backend.to_numpy(a) - backend.to_numpy(b))))


def run(ctx) -> Measured:
    rng = ctx.rng("weights")
    n = {}
    with backend.default_dtype(np.float64):
        fc = nn.Linear(C * H * W, F, rng=rng)
        conv = fc.as_conv2d((C, H, W))
        x = rng.standard_normal((4, C, H, W))
        y_fc, y_conv = fc(x), conv(x)
        n["fc_vs_full_conv_max_diff"] = _max_diff(y_fc, y_conv[:, :, 0, 0])
        n["scatter_fc"], n["scatter_conv"] = y_fc.ravel().tolist(), y_conv.ravel().tolist()
        n["fc_params"], n["full_conv_params"] = fc.num_parameters(), conv.num_parameters()
        big = rng.standard_normal((2, C, H + 2, W + 2))  # the conv slides: one FC output per 3x3 window
        y_slide = conv(big)
        per_window = np.stack([np.stack([fc(big[:, :, i:i + H, j:j + W]) for j in range(3)], -1) for i in range(3)], -2)
        n["sliding_conv_vs_fc_per_window_max_diff"] = _max_diff(y_slide, per_window)
        one = nn.Conv2d(C, F, 1, rng=rng)
        fc1 = nn.Linear(C, F, rng=rng)
        fc1.weight.data[...] = one.weight.data.reshape(F, C).T
        fc1.bias.data[...] = one.bias.data
        z = rng.standard_normal((2, C, 5, 5))
        per_position = fc1(z.transpose(0, 2, 3, 1).reshape(-1, C)).reshape(2, 5, 5, F).transpose(0, 3, 1, 2)
        n["conv1x1_vs_fc_per_position_max_diff"] = _max_diff(one(z), per_position)
        n["small_gap_head_params"] = nn.Sequential(nn.GlobalAvgPool2d(), nn.Linear(C, F)).num_parameters()
    vgg = vgg16_counts()
    n.update({f"vgg16_{k}": v for k, v in vgg.items()})
    n["vgg16_fc_head"] = vgg["fc6"] + vgg["fc7"] + vgg["fc8"]
    n["vgg16_total"] = vgg["trunk"] + n["vgg16_fc_head"]
    n["vgg16_fc_head_share"] = n["vgg16_fc_head"] / n["vgg16_total"]
    n["vgg16_head_ratio"] = n["vgg16_fc_head"] / vgg["gap_head"]
    _plot(n, ctx.figure_path)
    setup = (f"float64, glassnet layers: Linear({C * H * W}, {F}) on {C}x{H}x{W} maps vs its Linear.as_conv2d "
             f"(a {H}x{W} conv with {F} filters), also slid over {C}x{H + 2}x{W + 2} maps; Conv2d({C}, {F}, 1) vs the Linear "
             f"with the same weights at each of 5x5 positions. VGG-16 counts by formula (weights + biases).")
    return Measured(setup, n)


def verdict(n):
    return judge([
        check(n["fc_vs_full_conv_max_diff"] < TOL and n["fc_params"] == n["full_conv_params"]
              and n["vgg16_fc6"] == n["vgg16_fc6_as_conv"],
              f"FC == conv with a whole-input kernel: largest difference {fmt(n['fc_vs_full_conv_max_diff'])} (< {fmt(TOL)} "
              f"required), {fmt(n['fc_params'])} parameters both; VGG-16 FC6 {fmt(n['vgg16_fc6'])} = conv 7x7x512 x 4096 "
              f"{fmt(n['vgg16_fc6_as_conv'])}"),
        check(n["sliding_conv_vs_fc_per_window_max_diff"] < TOL,
              f"on a larger input the converted conv gives the FC output of every window: largest difference "
              f"{fmt(n['sliding_conv_vs_fc_per_window_max_diff'])}"),
        check(n["conv1x1_vs_fc_per_position_max_diff"] < TOL,
              f"1x1 conv == FC at each position: largest difference {fmt(n['conv1x1_vs_fc_per_position_max_diff'])}"),
        check(n["vgg16_head_ratio"] >= MIN_HEAD_RATIO,
              f"VGG-16: FC head {fmt(n['vgg16_fc_head'])} parameters ({100 * n['vgg16_fc_head_share']:.1f} % of "
              f"{fmt(n['vgg16_total'])}) vs {fmt(n['vgg16_gap_head'])} for a GAP + FC(1000) head: "
              f"{fmt(n['vgg16_head_ratio'])}x (>= {fmt(MIN_HEAD_RATIO)}x required)"),
    ])


def headline(n) -> str:
    return (f"FC vs conv max diff {fmt(n['fc_vs_full_conv_max_diff'])}; VGG-16 FC head {n['vgg16_fc_head'] / 1e6:.1f} M "
            f"vs GAP head {n['vgg16_gap_head'] / 1e6:.2f} M parameters")


def _plot(n, path):
    fig, (ax_eq, ax_par) = figure(2, title="A fully connected layer is a convolution")
    a, b = np.asarray(n["scatter_fc"]), np.asarray(n["scatter_conv"])
    lim = [min(a.min(), b.min()) - 0.2, max(a.max(), b.max()) + 0.2]
    ax_eq.plot(lim, lim, color="gray", lw=1, label="y = x")
    ax_eq.plot(a, b, "o", ms=4, color="tab:blue",
               label=f"{a.size} outputs, largest difference {fmt(n['fc_vs_full_conv_max_diff'])}")
    ax_eq.set(xlabel=f"Linear({C * H * W}, {F}) output", ylabel=f"Conv2d({C}, {F}, kernel {H}x{W}) output",
              title=f"small case: FC on {C}x{H}x{W} maps vs full-size conv")
    names = ["conv trunk", "FC6\n7x7x512->4096", "FC7", "FC8", "GAP head\n512->1000"]
    values = [n["vgg16_trunk"], n["vgg16_fc6"], n["vgg16_fc7"], n["vgg16_fc8"], n["vgg16_gap_head"]]
    colors = ["tab:gray", "tab:red", "tab:red", "tab:red", "tab:green"]
    bars = ax_par.bar(range(len(values)), values, color=colors)
    for bar, v in zip(bars, values):
        ax_par.annotate(f"{v / 1e6:.2f} M", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    ax_par.set_yscale("log")
    ax_par.set(xticks=range(len(values)), xticklabels=names, ylabel="parameters (log scale)",
               title="VGG-16 parameter counts", ylim=(1e5, 1e9))
    ax_eq.legend(fontsize=8, loc="upper left")
    ax_par.legend(handles=[patch("tab:gray", "13 conv layers"),
                           patch("tab:red", f"FC head: {n['vgg16_fc_head'] / 1e6:.1f} M "
                                            f"({100 * n['vgg16_fc_head_share']:.0f} % of all)"),
                           patch("tab:green", "global-average-pooling head")], fontsize=8, loc="upper right")
    for ax in (ax_eq, ax_par):
        ax.grid(alpha=0.3)
    ax_par.tick_params(axis="x", labelsize=7)
    save_figure(fig, path)
