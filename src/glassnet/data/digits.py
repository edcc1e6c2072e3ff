"""The 8x8 handwritten digits bundled with scikit-learn (1797 images, no download)."""
from __future__ import annotations

from ..optional import require
from .splits import DataSplits, make_splits, stratified_split

DIGITS_PIXEL_MAX = 16.0
"""The sklearn digits store ink counts 0..16 per pixel."""


def digits(seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2,
           limit: int | None = None) -> DataSplits:
    """``sklearn.datasets.load_digits`` as :class:`DataSplits` of (N, 1, 8, 8) images, classes "0".."9".

    The test part is ``train_test_split(..., test_size=test_fraction, stratify=y, random_state=seed)``;
    validation is then a stratified ``val_fraction`` of the rest (of its first ``limit`` examples if
    given). Pixels are scaled by 1/16, then normalised.
    """
    bunch = require("sklearn.datasets", "the digits dataset").load_digits()
    images, labels = bunch.images[:, None], bunch.target
    train, test = stratified_split(labels, test_fraction, seed)
    return make_splits(images[train], labels[train], images[test], labels[test],
                       classes=[str(c) for c in bunch.target_names], pixel_scale=DIGITS_PIXEL_MAX,
                       seed=seed, val_fraction=val_fraction, limit=limit, name="digits")
