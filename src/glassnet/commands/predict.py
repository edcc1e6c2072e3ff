"""Classify inputs with a trained run: image files (PNG/JPEG) or .npy arrays (images or signals); top-k classes."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..data import load_image
from ..data.npz import is_npz_path
from ..data.splits import standardize, to_unit
from ..errors import InputError
from ..functional import softmax
from ..train import predict_scores
from ..train.run import load_run

HELP = "top-k predictions with softmax probabilities for image files (or .npy images and signals)"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `glassnet train`")
    p.add_argument("images", nargs="+", help="PNG/JPEG files (resized to the model input), or .npy arrays of raw values (images or signals)")
    p.add_argument("--top-k", type=int, default=3, help="how many of the most probable classes to print")
    p.add_argument("--invert", action="store_true",
                   help="invert image files first (dark ink on a light background, as drawn on paper; the "
                        "digits, MNIST and Fashion-MNIST data are light on dark)")


def load_input(path, meta, invert=False) -> np.ndarray:
    """One file as a normalised (C, H, W) image or (C, L) signal, the way the run's training data was prepared.

    Image files are read as 0..255, optionally inverted (255 - v), and mapped to the data's pixel
    range 0..pixel_scale; .npy files hold raw values as the training data held them (see
    :func:`load_raw_pixels`). A run on signals takes .npy files only.
    """
    shape = tuple(meta["input_shape"])
    path = Path(path)
    if path.suffix == ".npy":
        pixels = load_raw_pixels(path, shape, meta["pixel_scale"] if _bounded(meta) else None)
    elif len(shape) != 3:
        raise InputError(f"{path}: this run's model takes signals of shape {shape} (channels, length), "
                         f"not images: give each one as a .npy array")
    else:
        c, h, w = shape
        image = load_image(path, size=(h, w), channels=c).astype(np.float64)
        pixels = (255.0 - image if invert else image) * (meta["pixel_scale"] / 255.0)
    return standardize(to_unit(pixels[None], meta["pixel_scale"]), np.asarray(meta["mean"]), np.asarray(meta["std"]))[0]


def _bounded(meta) -> bool:
    """Whether the run's raw inputs lie in 0..pixel_scale: true for the built-in image datasets and uint8
    arrays; a ``.npz`` of real values (pixel_scale 1) was taken as it is, in any range."""
    return not is_npz_path(meta.get("data", "")) or meta["pixel_scale"] != 1.0


def load_raw_pixels(path: Path, shape, pixel_scale) -> np.ndarray:
    """A .npy file of ``prod(shape)`` real values, as float64 of ``shape``; in ``0..pixel_scale`` unless
    ``pixel_scale`` is None (inputs with no fixed range).

    Refuses, naming the file, what would give confident garbage: non-numeric arrays (objects, strings),
    NaN or infinite values, and values outside the pixel range the model was trained on.
    """
    try:
        pixels = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:  # object arrays, truncated or foreign files
        raise InputError(f"{path}: not a .npy array of numbers ({exc})") from exc
    if pixels.dtype.kind not in "biuf":
        kind = {"U": "strings", "S": "bytes", "O": "objects", "c": "complex numbers"}.get(pixels.dtype.kind, "values")
        raise InputError(f"{path}: expected an array of numbers (raw values), found {kind} ({pixels.dtype})")
    if pixels.size != math.prod(shape):
        raise InputError(f"{path}: expected {math.prod(shape)} values for input shape {tuple(shape)}, "
                         f"got an array of shape {pixels.shape}")
    pixels = pixels.astype(np.float64).reshape(shape)
    if not np.isfinite(pixels).all():
        raise InputError(f"{path}: holds {int((~np.isfinite(pixels)).sum())} NaN or infinite values")
    low, high = float(pixels.min()), float(pixels.max())
    if pixel_scale is not None and (low < 0 or high > pixel_scale):
        raise InputError(f"{path}: raw pixels must lie in 0..{pixel_scale:g} like the run's training data, "
                         f"found {low:g}..{high:g}")
    return pixels


def run(args) -> int:
    if args.top_k < 1:
        raise InputError(f"--top-k must be >= 1, got {args.top_k}")
    model, _, meta = load_run(args.run_dir)
    x = np.stack([load_input(p, meta, args.invert) for p in args.images])
    probs = softmax(predict_scores(model, x, use_plan=True).astype(np.float64), axis=1)
    k = max(1, min(args.top_k, probs.shape[1]))
    for path, p in zip(args.images, probs):
        top = np.argsort(-p)[:k]
        print(f"{path}: " + ", ".join(f"{meta['classes'][i]} ({p[i]:.3f})" for i in top))
    return 0
