"""Synchronised batch norm: normalise with the statistics of the global batch, not of the rank's shard.

By default (per-rank statistics) each rank's BatchNorm normalises its shard with the shard's mean and
variance, as PyTorch's DistributedDataParallel does; the model then depends on how many ranks share
the batch. :func:`sync_batchnorm` makes every BatchNorm1d/BatchNorm2d of a model use the mean and
variance of the *global* batch, so K ranks compute what one process computes.

It wraps the layers and reuses the functional kernels
(:func:`glassnet.functional.batchnorm_forward` / ``batchnorm_backward``) for all the per-example
math; only the per-channel sums cross the network. With ``m = sum_r m_r`` values per channel
(``m_r = N_r`` or ``N_r * H * W`` on rank ``r``):

forward (two small Allreduces, the two-pass formula a single process uses)::

    mu  = (sum_r sum x) / m                         Allreduce of [sum x per channel, m_r]
    var = (sum_r sum (x - mu)^2) / m                Allreduce of the sums of squared deviations
    out = batchnorm_forward(x, gamma, beta, {mean: mu, var: var}, train=False)   # the kernel, fed global stats
    running = (1 - momentum) * running + momentum * (mu, var * m / (m - 1))

backward (one Allreduce). The single-process formula is
``dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))`` with ``dx_hat = gamma * dout``;
the kernel's eval branch gives the first term, ``inv_std * dx_hat``, and the local sums
``dbeta_r = sum dout`` and ``dgamma_r = sum dout * x_hat``; so::

    S1, S2 = Allreduce of [dbeta_r, dgamma_r]       (global sum dout, sum dout * x_hat)
    dx = inv_std * dx_hat - inv_std * gamma / m * (S1 + x_hat * S2)

The kernel's cache is passed back to ``batchnorm_backward`` untouched (it may come from a compiled
fast path); the correction term uses ``x - mu`` and ``inv_std`` kept by the wrapper itself.
The per-channel sums are reduced in float64 (a few numbers per channel), so the count is exact and
adding K partial sums loses nothing. The layer keeps its class, names and state_dict: saving,
checkpoints and evaluation (which uses the running statistics, no communication) are unchanged.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import functional as F
from ..nn.norm import _BatchNorm


class _SyncCache:
    """The kernel's cache (opaque: whatever batchnorm_forward returned) and what the correction needs."""

    __slots__ = ("kernel_cache", "m", "xc", "inv_std", "bshape")

    def __init__(self, kernel_cache, m, xc, inv_std, bshape):
        self.kernel_cache, self.m, self.xc, self.inv_std, self.bshape = kernel_cache, m, xc, inv_std, bshape


class SyncBatchNorm:
    """The synchronised forward/backward of one BatchNorm layer (installed by :func:`sync_batchnorm`)."""

    def __init__(self, layer, comm):
        if not isinstance(layer, _BatchNorm):
            raise TypeError(f"SyncBatchNorm wraps BatchNorm1d/BatchNorm2d layers, got {type(layer).__name__}")
        self.layer, self.comm = layer, comm

    def _reduce(self, host_sums):
        return self.comm.allreduce_(np.ascontiguousarray(host_sums, dtype=np.float64))

    def forward(self, x):
        bn = self.layer
        if not bn.training:  # eval: running statistics, nothing to synchronise
            return type(bn).forward(bn, x)
        bn._expect_input(x, bn._ndim, bn._layout.format(bn.num_features), channels=bn.num_features)
        xp = backend.array_module(x)
        axes = (0,) if x.ndim == 2 else (0, 2, 3)
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        c = x.shape[1]
        sums = self._reduce(np.append(backend.to_numpy(x.sum(axis=axes)), x.size // c))
        m = int(round(sums[c]))
        if m < 2:
            raise ValueError(f"{bn.describe()}: training needs more than one value per channel over all ranks, "
                             f"got {m}")
        mu = xp.asarray(sums[:c] / m, dtype=x.dtype)
        xc = x - mu.reshape(bshape)
        var = xp.asarray(self._reduce(backend.to_numpy((xc * xc).sum(axis=axes))) / m, dtype=x.dtype)
        out, cache = F.batchnorm_forward(x, bn.weight.data, bn.bias.data, {"mean": mu, "var": var}, False,
                                         bn.momentum, bn.eps)
        mom = bn.momentum
        bn.running_mean *= 1 - mom
        bn.running_mean += mom * mu
        bn.running_var *= 1 - mom
        bn.running_var += mom * var * (m / (m - 1))
        inv_std = 1 / xp.sqrt(var + x.dtype.type(bn.eps))
        bn._cache = _SyncCache(cache, m, xc, inv_std, bshape)
        return out

    def backward(self, dout):
        bn = self.layer
        cache = bn._take_cache()
        if not isinstance(cache, _SyncCache):  # the forward ran in eval mode
            bn._cache = cache
            return type(bn).backward(bn, dout)
        dx, dgamma, dbeta = F.batchnorm_backward(dout, cache.kernel_cache)  # dx = inv_std * gamma * dout
        bshape, inv_std, gamma = cache.bshape, cache.inv_std, bn.weight.data
        x_hat = cache.xc * inv_std.reshape(bshape)
        c = dgamma.shape[0]
        sums = self._reduce(np.concatenate([backend.to_numpy(dbeta), backend.to_numpy(dgamma)]))
        xp = backend.array_module(dx)
        s1 = xp.asarray(sums[:c], dtype=dx.dtype).reshape(bshape)
        s2 = xp.asarray(sums[c:], dtype=dx.dtype).reshape(bshape)
        dx = dx - (gamma * inv_std / dx.dtype.type(cache.m)).reshape(bshape) * (s1 + x_hat * s2)
        bn.weight.grad += dgamma
        bn.bias.grad += dbeta
        return dx

    def __repr__(self):
        return f"SyncBatchNorm({self.layer!r}, ranks={self.comm.size})"


def sync_batchnorm(model, comm):
    """Make every BatchNorm layer of ``model`` normalise over the global batch of all ranks of ``comm``.

    The layers keep their class and parameters; their ``forward``/``backward`` are routed through
    :class:`SyncBatchNorm`. Returns ``model``. :func:`unsync_batchnorm` undoes it.
    """
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            sync = SyncBatchNorm(m, comm)
            object.__setattr__(m, "forward", sync.forward)
            object.__setattr__(m, "backward", sync.backward)
    return model


def unsync_batchnorm(model):
    """Give ``model``'s BatchNorm layers back their per-batch (per-rank) statistics."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.__dict__.pop("forward", None)
            m.__dict__.pop("backward", None)
    return model


def is_synced(layer) -> bool:
    """True if ``layer`` is a BatchNorm layer routed through :class:`SyncBatchNorm`."""
    fwd = layer.__dict__.get("forward")
    return getattr(fwd, "__self__", None).__class__ is SyncBatchNorm
