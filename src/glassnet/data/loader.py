"""DataLoader: batches of a dataset as arrays of the active backend, reproducible from (seed, epoch)."""
from __future__ import annotations

from .. import backend
from .sampler import BatchSampler, batch_rng


class DataLoader:
    """Iterate over ``dataset`` in batches ``(x, y)``.

    ``x`` is an array of the active backend in the default dtype, ``y`` keeps its dtype (int64 labels).
    Each iteration is one epoch. Its batches (see :class:`~glassnet.data.sampler.BatchSampler`) and
    the random transforms applied to them (``transform(x, rng)`` with
    :func:`~glassnet.data.sampler.batch_rng`) depend on ``(seed, epoch)`` only.

    The loader counts epochs itself: iteration ``k`` is epoch ``k``. ``set_epoch(e)`` makes the next
    iteration epoch ``e`` (call it each epoch, as with PyTorch's DistributedSampler, or once to resume).
    """

    def __init__(self, dataset, batch_size: int = 64, shuffle: bool = True, seed: int = 0,
                 replacement: bool = False, drop_last: bool = False, transform=None):
        self.dataset = dataset
        self.sampler = BatchSampler(len(dataset), batch_size, shuffle=shuffle, seed=seed,
                                    replacement=replacement, drop_last=drop_last)
        self.transform = transform
        self.epoch = 0

    @property
    def batch_size(self) -> int:
        return self.sampler.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration replay epoch ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Number of batches per epoch."""
        return len(self.sampler)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self._epoch_batches(epoch)

    def _epoch_batches(self, epoch: int):
        xp = backend.get_xp()
        for b, indices in enumerate(self.sampler.batches(epoch)):
            x, y = self.dataset[indices]
            if self.transform is not None:
                x = self.transform(x, batch_rng(self.sampler.seed, epoch, b))
            yield backend.asarray(x), xp.asarray(y)
