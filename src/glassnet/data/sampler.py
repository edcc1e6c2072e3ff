"""Which examples go in which batch: a pure function of (seed, epoch).

The order of an epoch comes from ``numpy.random.default_rng([seed, epoch])``: one permutation of all
indices (or, with ``replacement=True``, ``n`` independent draws — the classic cs231n solver), cut into
consecutive batches. Nothing else feeds the order, so resuming at epoch ``e`` replays it exactly, and
a distributed sampler can shard each global batch of :meth:`BatchSampler.batches` across ranks.
"""
from __future__ import annotations

import numpy as np


def epoch_indices(n: int, seed: int, epoch: int, shuffle: bool = True, replacement: bool = False) -> np.ndarray:
    """The ``n`` example indices visited in ``epoch``, in order (int64).

    ``shuffle=False``: ``0..n-1``. ``shuffle=True``: a permutation drawn from
    ``default_rng([seed, epoch])``. ``replacement=True``: ``n`` indices drawn uniformly with
    replacement from the same generator (some examples repeat, others are skipped).
    """
    if replacement and not shuffle:
        raise ValueError("replacement=True samples at random: it cannot be combined with shuffle=False")
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    if replacement:
        return rng.integers(0, n, size=n, dtype=np.int64)
    return rng.permutation(n).astype(np.int64, copy=False)


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The generator for random transforms of batch number ``batch`` of ``epoch``.

    It is the ``batch``-th child (``spawn_key=(batch,)``) of the epoch's seed sequence, so it never
    coincides with the stream that orders the epoch, and each batch's augmentation can be replayed alone.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, epoch], spawn_key=(batch,)))


class BatchSampler:
    """Cuts each epoch's :func:`epoch_indices` into index batches of ``batch_size``.

    The last batch is smaller when ``batch_size`` does not divide ``n``, unless ``drop_last=True``
    drops it.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool = True, seed: int = 0,
                 replacement: bool = False, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if replacement and not shuffle:
            raise ValueError("replacement=True samples at random: it cannot be combined with shuffle=False")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.replacement, self.drop_last = replacement, drop_last

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The index arrays of ``epoch``'s batches, in order."""
        order = epoch_indices(self.n, self.seed, epoch, self.shuffle, self.replacement)
        return [order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(len(self))]
