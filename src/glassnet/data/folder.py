"""Images in class folders (``root/<class>/<image>.png|jpg``), decoded with Pillow."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, MissingInputError
from ..optional import require
from .splits import DataSplits, make_splits, stratified_split

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _hw(size) -> tuple[int, int] | None:
    if size is None:
        return None
    return (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))


def load_image(path, size=None, channels: int = 3) -> np.ndarray:
    """One image file -> uint8 array (C, H, W), converted to grayscale (``channels=1``) or RGB (3)
    and resized (bilinear) to ``size`` = (H, W) or an int, if given.

    Raises ValueError naming the file when Pillow cannot decode it.
    """
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    image_module = require("PIL.Image", "reading image files")
    try:
        with image_module.open(path) as opened:
            image = opened.convert("L" if channels == 1 else "RGB")
    except (OSError, SyntaxError, ValueError, image_module.DecompressionBombError) as exc:  # unreadable, corrupt, huge
        raise InputError(f"{path}: cannot read image ({exc})") from exc
    hw = _hw(size)
    if hw is not None and image.size != (hw[1], hw[0]):
        image = image.resize((hw[1], hw[0]), image_module.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def image_folder(root, size=None, channels: int = 3, seed: int = 0, val_fraction: float = 0.1,
                 test_fraction: float = 0.2, limit: int | None = None) -> DataSplits:
    """DataSplits from ``root/<class name>/*.png|jpg|jpeg``, classes in sorted folder order.

    Every image is resized to ``size`` ((H, W) or an int; default: the first image's size). The test
    part is a stratified, seeded ``test_fraction`` of all images, validation a ``val_fraction`` of the
    rest (of its first ``limit`` examples if given).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MissingInputError(f"image folder {root} does not exist")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise InputError(f"class folder {root / name} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        files += found
        labels += [label] * len(found)
    if not files:
        raise InputError(f"{root} holds no class sub-folders with images")
    first = load_image(files[0], size, channels)
    images = np.stack([first] + [load_image(f, first.shape[1:], channels) for f in files[1:]])
    labels = np.asarray(labels, dtype=np.int64)
    train, test = stratified_split(labels, test_fraction, seed)
    return make_splits(images[train], labels[train], images[test], labels[test], classes=classes,
                       pixel_scale=255.0, seed=seed, val_fraction=val_fraction, limit=limit, name="folder")
