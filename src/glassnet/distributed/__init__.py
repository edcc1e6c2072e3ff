"""Data-parallel training over MPI: from one laptop to many machines.

K processes (ranks), started by ``mpirun -n K``, each hold the whole model and train on a shard of
every global minibatch; one Allreduce per step makes their gradients the gradient of the global batch,
so K ranks train to the same weights as one process with the same seed and batch size.

The pieces, one idea per module:

* :mod:`.comm` - who am I (``rank``), how many are we (``size``): :func:`init` returns MPI's world
  communicator, or :class:`LocalComm` (one process) where MPI is not installed;
* :mod:`.sampler` - :class:`ShardedLoader`: rank r's shard of each global batch of the seeded
  per-epoch permutation;
* :mod:`.parallel` - :class:`DataParallel`: consistency check, broadcast from rank 0, one Allreduce of
  one flat gradient buffer per step;
* :mod:`.syncbn` - :func:`sync_batchnorm`: batch norm with the global batch's statistics;
* :mod:`.failure` - :func:`abort_on_error`: an error on any rank ends the whole job, naming the rank.

mpi4py is optional (``pip install glassnet[mpi]``); importing this package does not import it.
"""
from .comm import INSTALL_HINT, Communicator, LocalComm, MPIComm, MPIUnavailable, init, launched_size
from .failure import abort_on_error, install_excepthook, report
from .parallel import ConfigurationMismatch, DataParallel, check_consistency
from .sampler import ShardedBatchSampler, ShardedLoader, shard_bounds
from .syncbn import SyncBatchNorm, is_synced, sync_batchnorm, unsync_batchnorm

__all__ = [
    "init", "Communicator", "LocalComm", "MPIComm", "MPIUnavailable", "INSTALL_HINT", "launched_size",
    "ShardedBatchSampler", "ShardedLoader", "shard_bounds",
    "DataParallel", "check_consistency", "ConfigurationMismatch",
    "SyncBatchNorm", "sync_batchnorm", "unsync_batchnorm", "is_synced",
    "abort_on_error", "install_excepthook", "report",
]
