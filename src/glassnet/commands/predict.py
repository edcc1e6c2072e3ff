"""Classify image files (PNG/JPEG, or .npy arrays of raw pixels) with a trained run: top-k classes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import load_image
from ..data.splits import standardize, to_unit
from ..errors import InputError
from ..functional import softmax
from ..train import predict_scores
from ..train.run import load_run

HELP = "top-k predictions with softmax probabilities for image files"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `glassnet train`")
    p.add_argument("images", nargs="+", help="PNG/JPEG files (resized to the model input) or .npy raw-pixel arrays")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--invert", action="store_true",
                   help="invert image files first (dark ink on a light background, as drawn on paper; the "
                        "digits, MNIST and Fashion-MNIST data are light on dark)")


def load_input(path, meta, invert=False) -> np.ndarray:
    """One file as a normalised (C, H, W) array, the way the run's training data was prepared.

    Image files are read as 0..255, optionally inverted (255 - v), and mapped to the data's pixel
    range 0..pixel_scale; .npy files hold raw pixels in that range already.
    """
    c, h, w = meta["input_shape"]
    path = Path(path)
    if path.suffix == ".npy":
        pixels = np.load(path, allow_pickle=False)
        if pixels.size != c * h * w:
            raise InputError(f"{path}: expected {c * h * w} pixel values for input shape {(c, h, w)}, "
                             f"got an array of shape {pixels.shape}")
        pixels = pixels.reshape(c, h, w)
    else:
        image = load_image(path, size=(h, w), channels=c).astype(np.float64)
        pixels = (255.0 - image if invert else image) * (meta["pixel_scale"] / 255.0)
    return standardize(to_unit(pixels[None], meta["pixel_scale"]), np.asarray(meta["mean"]), np.asarray(meta["std"]))[0]


def run(args) -> int:
    model, _, meta = load_run(args.run_dir)
    x = np.stack([load_input(p, meta, args.invert) for p in args.images])
    probs = softmax(predict_scores(model, x).astype(np.float64), axis=1)
    k = max(1, min(args.top_k, probs.shape[1]))
    for path, p in zip(args.images, probs):
        top = np.argsort(-p)[:k]
        print(f"{path}: " + ", ".join(f"{meta['classes'][i]} ({p[i]:.3f})" for i in top))
    return 0
