"""Data parallelism: K replicas of one model, one gradient Allreduce per step.

Every rank holds a full copy of the model and trains on its shard of the global minibatch
(:mod:`glassnet.distributed.sampler`). The replicas stay identical because

1. at the start, rank 0's parameters and buffers are broadcast to every rank
   (:meth:`DataParallel.broadcast_state`), after checking that all ranks run the same configuration
   and the same parameter shapes (:func:`check_consistency`);
2. at each step every rank applies the same gradient: the gradient of the global batch's mean loss.

The arithmetic of step 2. The loss of a global batch of ``B = sum_r b_r`` examples is the mean
``L = (1/B) sum_i l_i``. Rank ``r`` computes the mean over its own ``b_r`` examples,
``L_r = (1/b_r) sum_{i in r} l_i``, and its gradient of the scores. :meth:`DataParallel.scale_loss_gradient`
multiplies that by ``b_r`` so that backward computes the gradient of the *sum* ``sum_{i in r} l_i``
(every rank then uses the same scale, which synchronised batch norm needs, see
:mod:`glassnet.distributed.syncbn`). :meth:`DataParallel.allreduce_gradients` adds these sums over
all ranks and divides by ``B``::

    grad L = (1/B) sum_r grad( sum_{i in r} l_i )

which is exactly the single-process gradient of the global batch, for equal or unequal shards.

The gradients travel in ONE ``MPI_Allreduce`` per step, over one contiguous buffer allocated once::

    flat = [ grad of param 0 | grad of param 1 | ... | b_r * L_r | correct_r | b_r ]

Each ``Parameter.grad`` is made a *view* into ``flat``, so backward accumulates straight into the
buffer and nothing is copied before or after the reduction. The last three slots carry the loss,
the number of correct predictions and the example count, so the global loss and accuracy of the step
come with the same message.
"""
from __future__ import annotations

import hashlib
import json

from .. import backend
from ..errors import SetupError
from .comm import init


class ConfigurationMismatch(SetupError):
    """The ranks were started with different configurations or models."""


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _shapes(model):
    return [[name, list(a.shape), str(a.dtype)] for name, a in model.state_dict().items()]


def check_consistency(comm, model, config=None):
    """Raise :class:`ConfigurationMismatch` (on every rank) unless all ranks agree on config and model.

    One ``allgather`` of two hashes: of ``config`` (any JSON-able dict) and of the model's parameter
    and buffer names, shapes and dtypes. On a mismatch a second ``allgather`` fetches the full
    descriptions so the message can say which ranks differ and in what.
    """
    mine = {"config": config if config is not None else {}, "model": _shapes(model)}
    hashes = comm.allgather((_fingerprint(mine["config"]), _fingerprint(mine["model"])))
    if all(h == hashes[0] for h in hashes):
        return
    everyone = comm.allgather(mine)
    ref = everyone[0]
    problems = []
    for rank, theirs in enumerate(everyone[1:], start=1):
        if theirs["config"] != ref["config"]:
            keys = sorted(set(ref["config"]) | set(theirs["config"]), key=str)
            diff = [f"{k}={theirs['config'].get(k, '<unset>')!r} (rank 0: {ref['config'].get(k, '<unset>')!r})"
                    for k in keys if theirs["config"].get(k, "<unset>") != ref["config"].get(k, "<unset>")]
            problems.append(f"rank {rank} has a different configuration: " + ", ".join(diff))
        if theirs["model"] != ref["model"]:
            a, b = dict((n, (s, d)) for n, s, d in ref["model"]), dict((n, (s, d)) for n, s, d in theirs["model"])
            diff = [f"{n}: {b.get(n, 'missing')} (rank 0: {a.get(n, 'missing')})"
                    for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
            problems.append(f"rank {rank} has different parameters (shape, dtype): " + "; ".join(diff))
    raise ConfigurationMismatch("the ranks do not run the same training: " + " | ".join(problems)
                                + " - start every rank with the same command and code")


class DataParallel:
    """Keep ``model``'s replicas on all ranks of ``comm`` identical; average gradients in one Allreduce.

    Creating it checks the configuration (``config``, e.g. the run's config dict) and parameter shapes
    across ranks, broadcasts rank 0's parameters and buffers, and rebinds every ``p.grad`` to a view of
    one flat, preallocated buffer. In the training step::

        scores = model.forward(x)                       # x: this rank's shard
        loss, dscores = loss_fn(scores, y)              # mean over the shard
        model.backward(dp.scale_loss_gradient(dscores, len(y)))
        loss = dp.allreduce_gradients(loss, scores, y)  # p.grad: gradient of the global mean loss
        optimizer.step()

    ``comm=None`` uses :func:`glassnet.distributed.init` (one process without MPI).
    """

    def __init__(self, model, comm=None, config=None):
        self.comm = comm if comm is not None else init()
        self.model = model
        self.params = model.parameters()
        dtypes = {p.data.dtype for p in self.params}
        if len(dtypes) != 1:
            raise ValueError(f"DataParallel needs every parameter in one dtype, got {sorted(map(str, dtypes))}")
        check_consistency(self.comm, model, config)
        self.broadcast_state()
        xp = backend.array_module(self.params[0].data)
        sizes = [int(p.data.size) for p in self.params]
        self.flat = xp.zeros(sum(sizes) + 3, dtype=dtypes.pop())
        self._views, offset = [], 0
        for p, n in zip(self.params, sizes):
            view = self.flat[offset:offset + n].reshape(p.data.shape)
            view[...] = p.grad
            p.grad = view
            self._views.append(view)
            offset += n
        self._grads = self.flat[:offset]
        self._tail = self.flat[offset:]
        self.step_counts = (0, 0)  # (examples, correct predictions) of the last step, over all ranks

    @property
    def rank(self) -> int:
        return self.comm.rank

    @property
    def size(self) -> int:
        return self.comm.size

    @property
    def is_main(self) -> bool:
        return self.comm.rank == 0

    # ---------------------------------------------------------------- start of training
    def broadcast_state(self):
        """Copy rank 0's parameters and buffers (e.g. BN running statistics) to every rank, in place."""
        for array in self.model.state_dict().values():
            self.comm.bcast_(array)

    def sync_buffers(self):
        """Broadcast rank 0's buffers (BN running statistics, which per-rank batch norm lets drift apart)."""
        for _, array in self.model.named_buffers():
            self.comm.bcast_(array)

    # ---------------------------------------------------------------- each step
    def scale_loss_gradient(self, dscores, n):
        """``n * dscores``: from the gradient of this shard's mean loss to that of its summed loss."""
        return dscores * dscores.dtype.type(n)

    def allreduce_gradients(self, loss, scores=None, y=None):
        """Sum every rank's gradients (and loss, correct count, example count) in one Allreduce; divide by B.

        ``loss`` is this shard's mean loss, ``y`` its targets (``scores`` and ``y`` give the correct
        count; without them only the loss is reduced). Afterwards every ``p.grad`` holds the gradient
        of the global batch's mean loss, ``step_counts`` is ``(B, correct)``, and the global mean loss
        is returned.
        """
        for p, view in zip(self.params, self._views):
            if p.grad is not view:  # something rebound p.grad: bring it back into the buffer
                view[...] = p.grad
                p.grad = view
        n = len(y) if y is not None else 1
        xp = backend.array_module(self.flat)
        self._tail[0] = float(loss) * n
        if scores is not None and y is not None and getattr(scores, "ndim", 0) == 2 and scores.shape[1] > 1 \
                and getattr(y, "ndim", 0) == 1:
            self._tail[1] = int((xp.argmax(scores, axis=1) == y).sum())
        else:
            self._tail[1] = 0
        self._tail[2] = n
        self.comm.allreduce_(self.flat)
        total = self._tail[2]
        self._grads /= total
        self.step_counts = (int(round(float(total))), int(round(float(self._tail[1]))))
        return self._tail[0] / total

    # ---------------------------------------------------------------- checkpoints
    def batch_counts(self, scores=None, y=None):
        """(examples, correct predictions) of the last step's global batch (see allreduce_gradients)."""
        return self.step_counts

    def dropout_key(self):
        """Appended to (seed, epoch, layer) to seed dropout masks: ranks draw different masks for
        their different examples (one rank draws the single-process masks)."""
        return [self.rank] if self.size > 1 else []

    def load_checkpoint(self, path, model, optimizer, scheduler):
        """Rank 0 reads the checkpoint at ``path``; every rank receives its contents.

        Returns ``(solver_state, best_state)`` like :func:`glassnet.train.checkpoint.load_checkpoint`.
        Other ranks need not see the file (multi-host runs write it on rank 0's machine only).
        """
        from ..train.checkpoint import load_checkpoint  # noqa: PLC0415 - train imports this package's users

        if self.is_main:
            state, best = load_checkpoint(path, model, optimizer, scheduler)
            payload = {"state": state, "best": best, "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict() if scheduler is not None else None}
        else:
            payload = None
        payload = self.comm.bcast(payload)
        self.broadcast_state()
        if not self.is_main:
            optimizer.load_state_dict(payload["optimizer"])
            if scheduler is not None and payload["scheduler"] is not None:
                scheduler.load_state_dict(payload["scheduler"])
        return payload["state"], payload["best"]
