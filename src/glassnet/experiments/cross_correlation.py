"""Claim: what CNNs call convolution is cross-correlation (the kernel slides without being flipped);
flipping the kernel by 180 degrees turns one into the other.

glassnet's conv_forward is compared, in float64, with scipy.signal.correlate2d and
scipy.signal.convolve2d ("valid" mode) on a digit and an asymmetric kernel, and on random
multi-channel inputs (sum over input channels of 2-D correlations, plus the bias).
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from .. import functional as F
from .common import Measured, check, digits, figure, fmt, judge, save_figure

TITLE = "CNN convolution is cross-correlation"
CLAIM = ("The CNN 'convolution' is cross-correlation; flipping the kernel 180 degrees turns one into the other "
         "(glassnet conv vs scipy.signal.convolve2d / correlate2d).")

TOL = 1e-10
MIN_UNFLIPPED_DIFF = 1e-3
"""With an asymmetric kernel, true convolution must differ from glassnet's conv by at least this much."""


def glassnet_conv2d(image, kernel):
    """One image (H, W), one kernel (kh, kw), no padding, through glassnet's conv_forward."""
    out, _ = F.conv_forward(image[None, None], kernel[None, None], np.zeros(1))
    return out[0, 0]


def run(ctx) -> Measured:
    rng = ctx.rng("data")
    splits = digits(ctx.seed)
    image = splits.test.x[0, 0].astype(np.float64)
    kernel = rng.standard_normal((3, 3))
    flipped = kernel[::-1, ::-1]  # rotated by 180 degrees
    ours = glassnet_conv2d(image, kernel)
    corr = signal.correlate2d(image, kernel, mode="valid")
    conv = signal.convolve2d(image, kernel, mode="valid")
    conv_flipped = signal.convolve2d(image, flipped, mode="valid")
    n = {"image": image.tolist(), "kernel": kernel.tolist(), "glassnet": ours.tolist(), "scipy_convolve": conv.tolist(),
         "kernel_asymmetry": float(np.max(np.abs(kernel - flipped))),
         "vs_correlate2d_max_diff": float(np.max(np.abs(ours - corr))),
         "vs_convolve2d_max_diff": float(np.max(np.abs(ours - conv))),
         "vs_convolve2d_flipped_kernel_max_diff": float(np.max(np.abs(ours - conv_flipped)))}
    x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, _ = F.conv_forward(x, w, b)
    ref = np.array([[sum(signal.convolve2d(x[i, c], w[f, c, ::-1, ::-1], mode="valid") for c in range(3)) + b[f]
                     for f in range(4)] for i in range(2)])
    n["multichannel_vs_flipped_convolve2d_max_diff"] = float(np.max(np.abs(out - ref)))
    _plot(n, ctx.figure_path)
    setup = ("float64: the first test digit (8x8) and a random 3x3 kernel, 'valid' mode; glassnet conv_forward vs "
             "scipy.signal.correlate2d, convolve2d and convolve2d with the kernel rotated by 180 degrees; then a batch "
             "of 2 random 3-channel 7x7 inputs and 4 filters vs sum over channels of convolve2d with flipped kernels + bias.")
    return Measured(setup, n)


def verdict(n):
    return judge([
        check(n["vs_correlate2d_max_diff"] < TOL,
              f"glassnet conv vs scipy correlate2d: largest difference {fmt(n['vs_correlate2d_max_diff'])} "
              f"(< {fmt(TOL)} required)"),
        check(n["vs_convolve2d_max_diff"] > MIN_UNFLIPPED_DIFF,
              f"vs true convolution convolve2d with the same kernel: largest difference {fmt(n['vs_convolve2d_max_diff'])} "
              f"(> {fmt(MIN_UNFLIPPED_DIFF)} required: they are different operations)"),
        check(n["vs_convolve2d_flipped_kernel_max_diff"] < TOL and n["multichannel_vs_flipped_convolve2d_max_diff"] < TOL,
              f"vs convolve2d with the kernel rotated 180 degrees: {fmt(n['vs_convolve2d_flipped_kernel_max_diff'])}; "
              f"multi-channel batch: {fmt(n['multichannel_vs_flipped_convolve2d_max_diff'])} (< {fmt(TOL)} required)"),
    ])


def headline(n) -> str:
    return (f"max diff vs correlate2d {fmt(n['vs_correlate2d_max_diff'])}, vs convolve2d {fmt(n['vs_convolve2d_max_diff'])}, "
            f"vs convolve2d with flipped kernel {fmt(n['vs_convolve2d_flipped_kernel_max_diff'])}")


def _plot(n, path):
    title = "glassnet Conv2d = cross-correlation = convolution with the kernel flipped"
    fig, axes = figure(4, width=3.2, height=3.4, title=title)
    panels = [
        (n["image"], "input digit x (8x8)", "gray_r"),
        (n["kernel"], "kernel k (3x3)", "coolwarm"),
        (n["glassnet"], f"glassnet conv(x, k)\n= correlate2d: diff {fmt(n['vs_correlate2d_max_diff'])}\n"
                        f"= convolve2d(x, rot180 k): diff {fmt(n['vs_convolve2d_flipped_kernel_max_diff'])}", "coolwarm"),
        (n["scipy_convolve"], f"scipy convolve2d(x, k)\ndiffers by up to {fmt(n['vs_convolve2d_max_diff'])}", "coolwarm"),
    ]
    for ax, (img, title, cmap) in zip(axes, panels):
        im = ax.imshow(np.asarray(img), cmap=cmap)
        ax.set_title(title, fontsize=8)
        h, w = np.shape(img)
        ax.set(xlabel="column", ylabel="row", xticks=range(w), yticks=range(h))
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    k = np.asarray(n["kernel"])
    for (i, j), v in np.ndenumerate(k):
        axes[1].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    save_figure(fig, path)
