"""How a training run is spread over processes: the hooks the Solver and ``train_run`` call.

:class:`SingleProcess` is the default: one process, every hook the identity (or the plain local
computation), so the Solver reads as the training loop it is. Data-parallel training over MPI
implements the same hooks (:class:`glassnet.distributed.DataParallel` for the Solver's step,
:class:`glassnet.distributed.run.DistributedRun` for ``train_run``).
"""
from __future__ import annotations

from ..backend import array_module
from .checkpoint import load_checkpoint


class SingleProcess:
    """One process trains on whole batches; it is the main (and only) process."""

    is_main = True
    rank, size = 0, 1

    # ---------------------------------------------------------------- train_run
    def from_main(self, make):
        """The value ``make()`` computes on the main process, on every process (here: ``make()``)."""
        return make()

    def distribute(self, cfg, model, loader, train_size):
        """``(loader, step strategy)`` for the Solver: here the loader as it is and this object."""
        return loader, self

    # ---------------------------------------------------------------- Solver steps
    def scale_loss_gradient(self, dscores, n):
        """The loss gradient to back-propagate (data-parallel ranks rescale it to the global batch)."""
        return dscores

    def allreduce_gradients(self, loss, scores=None, y=None):
        """Make the gradients those of the whole batch (here they are); return the batch's mean loss."""
        return loss

    def batch_counts(self, scores, y):
        """(examples, correct predictions) of the step's batch."""
        xp = array_module(scores)
        return len(y), int((xp.argmax(scores, axis=1) == y).sum())

    def dropout_key(self):
        """What is appended to (seed, epoch, layer) to seed a dropout mask (ranks draw different masks)."""
        return []

    def sync_buffers(self):
        """After an epoch: make the buffers (BN running statistics) agree across processes (here: nothing)."""

    def load_checkpoint(self, path, model, optimizer, scheduler):
        """Read a checkpoint into the model, optimizer and scheduler; return (state, best_state)."""
        return load_checkpoint(path, model, optimizer, scheduler)
