"""Every rank gets its share of the same global minibatch.

Rank ``r`` of ``K`` does not shuffle on its own. All ranks compute the same epoch permutation
(:func:`glassnet.data.sampler.epoch_indices` from ``(seed, epoch)``), cut it into the same global
batches of ``batch_size`` (:class:`~glassnet.data.sampler.BatchSampler`), and each rank takes
shard ``r`` of each global batch. So the set of examples in step ``s`` is exactly the batch a single
process would train on in step ``s``, whatever ``K`` is.

The sharding rule (:func:`shard_bounds`): a global batch of ``B`` examples is cut into ``K``
consecutive pieces like ``numpy.array_split``: the first ``B % K`` ranks get ``B // K + 1``
examples, the others ``B // K``. When ``K`` divides ``B`` the shards are equal; otherwise they differ
by one, which the gradient averaging accounts for (see :mod:`glassnet.distributed.parallel`).
``batch_size`` must be at least ``K``. A final global batch with fewer than ``K`` examples (the
remainder ``n % batch_size``) would leave a rank empty-handed: it is dropped, on every rank.
"""
from __future__ import annotations

import warnings

from .. import backend
from ..data.loader import DataLoader
from ..data.sampler import BatchSampler, batch_rng


def shard_bounds(batch_len: int, rank: int, size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s piece of a global batch of ``batch_len`` examples."""
    q, r = divmod(batch_len, size)
    start = rank * q + min(rank, r)
    return start, start + q + (rank < r)


class ShardedBatchSampler(BatchSampler):
    """The batches of :class:`~glassnet.data.sampler.BatchSampler`, each cut down to rank ``rank``'s shard.

    ``batch_size`` is the *global* batch size. :meth:`global_batches` are the whole batches (the same
    on every rank), :meth:`batches` this rank's pieces of them.
    """

    def __init__(self, n: int, batch_size: int, rank: int = 0, size: int = 1, shuffle: bool = True,
                 seed: int = 0, replacement: bool = False, drop_last: bool = False):
        if not 0 <= rank < size:
            raise ValueError(f"rank must be in 0..{size - 1}, got {rank}")
        if batch_size < size:
            raise ValueError(
                f"the global batch size ({batch_size}) is smaller than the number of ranks ({size}): "
                f"every rank needs at least one example per step; use --batch-size {size} or more"
            )
        super().__init__(n, batch_size, shuffle=shuffle, seed=seed, replacement=replacement, drop_last=drop_last)
        self.rank, self.size = rank, size
        last = n % batch_size
        self.drops_remainder = not drop_last and 0 < last < size
        if self.drops_remainder and rank == 0:
            warnings.warn(f"the last batch of each epoch has {last} examples, fewer than the {size} ranks: "
                          f"it is skipped", stacklevel=2)

    def __len__(self) -> int:
        return super().__len__() - self.drops_remainder

    def global_batches(self, epoch: int):
        """The whole batches of ``epoch`` (identical on every rank)."""
        return super().batches(epoch)[: len(self)]

    def batches(self, epoch: int):
        """This rank's shard of each global batch of ``epoch``."""
        out = []
        for b in self.global_batches(epoch):
            start, stop = shard_bounds(len(b), self.rank, self.size)
            out.append(b[start:stop])
        return out


class ShardedLoader(DataLoader):
    """A :class:`~glassnet.data.DataLoader` that yields this rank's shard of every global batch.

    ``batch_size`` is the global batch size; ``rank`` and ``size`` usually come from a communicator
    (``ShardedLoader(ds, 64, comm=comm)``). With a ``transform`` (random augmentation) every rank
    transforms the whole global batch with the single-process generator
    :func:`~glassnet.data.sampler.batch_rng` and keeps its slice, so the augmented examples too are
    exactly those a single process would see (the price: each rank augments ``batch_size`` images).
    """

    def __init__(self, dataset, batch_size: int = 64, comm=None, rank: int | None = None, size: int | None = None,
                 shuffle: bool = True, seed: int = 0, replacement: bool = False, drop_last: bool = False,
                 transform=None):
        rank = comm.rank if rank is None and comm is not None else (rank or 0)
        size = comm.size if size is None and comm is not None else (size or 1)
        super().__init__(dataset, batch_size, shuffle=shuffle, seed=seed, replacement=replacement,
                         drop_last=drop_last, transform=transform)
        self.sampler = ShardedBatchSampler(len(dataset), batch_size, rank, size, shuffle=shuffle, seed=seed,
                                           replacement=replacement, drop_last=drop_last)

    @property
    def rank(self) -> int:
        return self.sampler.rank

    @property
    def size(self) -> int:
        return self.sampler.size

    def _epoch_batches(self, epoch: int):
        xp = backend.get_xp()
        for b, indices in enumerate(self.sampler.global_batches(epoch)):
            start, stop = shard_bounds(len(indices), self.rank, self.size)
            if self.transform is None:
                x, y = self.dataset[indices[start:stop]]
            else:
                x, y = self.dataset[indices]
                x = self.transform(x, batch_rng(self.sampler.seed, epoch, b))[start:stop]
                y = y[start:stop]
            yield backend.asarray(x), xp.asarray(y)
