"""Batch transforms for NCHW images: each one is called as ``transform(x, rng)`` on a whole batch.

Random transforms draw everything for the batch from ``rng`` (the loader passes
:func:`~glassnet.data.sampler.batch_rng`, so augmentation is a pure function of (seed, epoch));
deterministic ones ignore it. All work on NumPy arrays, vectorised over the batch, keep the input
dtype and never modify their input.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(size) -> tuple[int, int]:
    return (size, size) if np.isscalar(size) else tuple(size)


def _check_rng(rng, name: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} is random: call it as transform(x, rng) with a numpy.random.Generator")
    return rng


class Normalize:
    """Per channel ``(x - mean[c]) / std[c]`` of float images."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if np.any(self.std <= 0):
            raise ValueError(f"std must be positive, got {self.std}")

    def __call__(self, x, rng=None):
        shape = (1, -1, 1, 1)
        return (x - self.mean.astype(x.dtype).reshape(shape)) / self.std.astype(x.dtype).reshape(shape)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomCrop:
    """Zero-pad each image by ``padding`` on every side, then crop a ``size`` window at a random place.

    Draws, in this order: the top row of every image, ``rng.integers(0, H + 2p - h + 1, N)``, then
    the left column, ``rng.integers(0, W + 2p - w + 1, N)``.
    """

    def __init__(self, size, padding: int = 0):
        self.size = _pair(size)
        self.padding = padding

    def __call__(self, x, rng=None):
        rng = _check_rng(rng, "RandomCrop")
        n, _, height, width = x.shape
        p, (h, w) = self.padding, self.size
        if h > height + 2 * p or w > width + 2 * p:
            raise ValueError(f"crop {self.size} is larger than the padded image {(height + 2 * p, width + 2 * p)}")
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        top = rng.integers(0, height + 2 * p - h + 1, size=n)
        left = rng.integers(0, width + 2 * p - w + 1, size=n)
        windows = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, rows, cols, h, w)
        return windows[np.arange(n), :, top, left]  # advanced indices first: (N, C, h, w)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p`` (one ``rng.random(N)`` draw per batch)."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x, rng=None):
        flip = _check_rng(rng, "RandomHorizontalFlip").random(len(x)) < self.p
        return np.where(flip[:, None, None, None], x[..., ::-1], x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Compose:
    """Apply ``transforms`` in order, all drawing from the same ``rng``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        for transform in self.transforms:
            x = transform(x, rng)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"
