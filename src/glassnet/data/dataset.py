"""Datasets: anything with a length that returns ``(x, y)`` for an array of indices."""
from __future__ import annotations

import numpy as np


class Dataset:
    """A map-style dataset. ``len(ds)`` examples; ``ds[indices]`` returns ``(x, y)`` host (NumPy) arrays
    for an integer index array, ``x`` batched on the first axis (images NCHW)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, indices):
        raise NotImplementedError


class ArrayDataset(Dataset):
    """Examples held in memory as two aligned arrays: inputs ``x`` (N, ...) and targets ``y`` (N, ...).

    Integer labels are stored as int64; other targets (e.g. float regression targets) are kept as given.
    """

    def __init__(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        if np.issubdtype(y.dtype, np.integer):
            y = y.astype(np.int64, copy=False)
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, indices):
        return self.x[indices], self.y[indices]

    def __repr__(self) -> str:
        return f"ArrayDataset(x={self.x.shape} {self.x.dtype}, y={self.y.shape} {self.y.dtype})"
