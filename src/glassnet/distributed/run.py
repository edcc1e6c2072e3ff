"""Glue for ``glassnet train --distributed``: turn a one-process run into a data-parallel one."""
from __future__ import annotations

from .parallel import DataParallel
from .sampler import ShardedLoader
from .syncbn import sync_batchnorm

# Options that may legitimately differ between machines (where the files are), left out of the check.
_LOCAL_KEYS = ("data_dir", "download")


def data_parallel(cfg, model, loader, comm, train_size=None):
    """``(sharded loader, DataParallel)`` for ``model`` trained with ``loader``'s settings on ``comm``.

    The loader keeps its dataset, global batch size, seed, sampling and augmentation, and yields this
    rank's shard of each global batch. ``cfg['sync_bn']`` switches batch norm to global-batch
    statistics. Creating the DataParallel checks that every rank runs the same configuration and
    model and broadcasts rank 0's weights.
    """
    sharded = ShardedLoader(loader.dataset, loader.batch_size, comm=comm, shuffle=loader.sampler.shuffle,
                            seed=loader.sampler.seed, replacement=loader.sampler.replacement,
                            drop_last=loader.sampler.drop_last, transform=loader.transform)
    if cfg.get("sync_bn"):
        sync_batchnorm(model, comm)
    check = {k: v for k, v in cfg.items() if k not in _LOCAL_KEYS}
    check["train_size"] = train_size if train_size is not None else len(loader.dataset)
    return sharded, DataParallel(model, comm, config=check)


class DistributedRun:
    """``train_run``'s strategy for data-parallel training on ``comm`` (the hooks of
    :class:`glassnet.train.strategy.SingleProcess`): rank 0 decides, every rank receives."""

    def __init__(self, comm):
        self.comm = comm

    @property
    def is_main(self) -> bool:
        return self.comm.is_main

    def from_main(self, make):
        """``make()`` computed on rank 0 (other hosts need not have its files), sent to every rank."""
        return self.comm.bcast(make() if self.comm.is_main else None)

    def distribute(self, cfg, model, loader, train_size):
        """(this rank's sharded loader, the DataParallel that the Solver's steps go through)."""
        return data_parallel(cfg, model, loader, self.comm, train_size=train_size)
