"""DataSplits: train/val/test datasets normalised with the training part's per-channel statistics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..errors import InputError
from ..optional import require
from .dataset import ArrayDataset


@dataclass(eq=False)
class DataSplits:
    """The three parts of a dataset, ready for training.

    ``train``/``val``/``test`` hold normalised NCHW images or NCL signals (default dtype) and int64 labels.
    Raw pixels were divided by ``pixel_scale`` (255 for bytes, 16 for the sklearn digits) to lie in
    [0, 1], then standardised per channel with ``mean``/``std`` (float64, shape (C,)) measured on
    ``train`` alone; :meth:`normalize` applies the same steps to new raw images.
    """

    train: ArrayDataset
    val: ArrayDataset
    test: ArrayDataset
    classes: list[str]
    input_shape: tuple[int, ...]
    mean: np.ndarray
    std: np.ndarray
    pixel_scale: float = 255.0
    name: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def normalize(self, images) -> np.ndarray:
        """Raw images (N,C,H,W), one image (C,H,W), or one grayscale (H,W) -> normalised (N,C,H,W);
        likewise signals (N,C,L), (C,L) or (L,) for one channel.

        Returns a host (NumPy) array in the default dtype, like the datasets.
        """
        x = np.asarray(images)
        if x.ndim == len(self.input_shape) - 1 and self.input_shape[0] == 1:
            x = x[None, None]
        elif x.ndim == len(self.input_shape):
            x = x[None]
        if x.shape[1:] != tuple(self.input_shape):
            raise InputError(f"{self.name or 'dataset'} expects images of shape (N, *{tuple(self.input_shape)}), "
                             f"got {np.asarray(images).shape}")
        return standardize(to_unit(x, self.pixel_scale), self.mean, self.std)


def to_unit(images, pixel_scale: float) -> np.ndarray:
    """Raw pixels / ``pixel_scale``, as a new array in the default dtype."""
    dtype = backend.get_default_dtype()
    x = np.asarray(images).astype(dtype)
    x /= dtype.type(pixel_scale)
    return x


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) std of NCHW (or NCL) ``x``, in float64; a zero std becomes 1."""
    mean = np.array([x[:, c].mean(dtype=np.float64) for c in range(x.shape[1])])
    std = np.array([x[:, c].std(dtype=np.float64) for c in range(x.shape[1])])
    return mean, np.where(std > 0, std, 1.0)


def standardize(x: np.ndarray, mean, std) -> np.ndarray:
    """``(x - mean[c]) / std[c]`` per channel (axis 1), in place on float ``x``; returns ``x``."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)
    x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def stratified_split(labels, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)`` holding out ``fraction`` of the examples, stratified by label.

    Exactly ``sklearn.model_selection.train_test_split(arange(n), test_size=fraction,
    stratify=labels, random_state=seed)``; ``fraction=0`` holds out nothing.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if fraction == 0:
        return np.arange(n), np.arange(0)
    if not 0 < fraction < 1:
        raise InputError(f"a split fraction must lie in [0, 1), got {fraction}")
    model_selection = require("sklearn.model_selection", "the stratified train/val/test split")
    try:
        keep, held = model_selection.train_test_split(
            np.arange(n), test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise InputError(f"cannot hold out a stratified {fraction:g} of {n} examples with "
                         f"{len(np.unique(labels))} classes ({exc}); use more examples or another fraction") from exc
    return keep, held


def make_splits(train_images, train_labels, test_images, test_labels, *, classes, pixel_scale: float,
                seed: int = 0, val_fraction: float = 0.1, limit: int | None = None, name: str = "") -> DataSplits:
    """Build :class:`DataSplits` from raw NCHW images (or NCL signals) and labels of a training and a test set.

    Keeps the first ``limit`` training examples (all if None), holds out a stratified, seeded
    ``val_fraction`` of them for validation, measures mean/std on what is left for training and
    normalises all three parts with them.
    """
    if limit is not None:
        if limit < 1:
            raise InputError(f"limit must be a positive number of examples, got {limit}")
        train_images, train_labels = train_images[:limit], train_labels[:limit]
    keep, held = stratified_split(train_labels, val_fraction, seed)
    x_train = to_unit(train_images[keep], pixel_scale)
    mean, std = channel_stats(x_train)
    parts = [
        ArrayDataset(standardize(x, mean, std), y)
        for x, y in ((x_train, train_labels[keep]),
                     (to_unit(train_images[held], pixel_scale), train_labels[held]),
                     (to_unit(test_images, pixel_scale), test_labels))
    ]
    return DataSplits(*parts, classes=list(classes), input_shape=tuple(int(d) for d in train_images.shape[1:]),
                      mean=mean, std=std, pixel_scale=float(pixel_scale), name=name)
