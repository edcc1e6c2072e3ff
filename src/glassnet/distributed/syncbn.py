"""Synchronised batch norm: normalise with the statistics of the global batch, not of the rank's shard.

By default (per-rank statistics) each rank's BatchNorm normalises its shard with the shard's mean and
variance, as PyTorch's DistributedDataParallel does; the model then depends on how many ranks share
the batch. :func:`sync_batchnorm` makes every BatchNorm1d/BatchNorm2d of a model use the mean and
variance of the *global* batch, so K ranks compute what one process computes.

The synchronised layers are subclasses, :class:`SyncBatchNorm1d` and :class:`SyncBatchNorm2d`, that
:func:`sync_batchnorm` puts in place of each BatchNorm1d/BatchNorm2d (sharing its parameters and
buffers), as PyTorch's ``SyncBatchNorm.convert_sync_batchnorm`` does; :func:`unsync_batchnorm` puts
plain layers back. They reuse the functional kernels (:func:`glassnet.functional.batchnorm_forward`
/ ``batchnorm_backward``) for all the per-example math and the one running-statistics update
(:func:`glassnet.functional.norm.update_running_stats`); only the per-channel sums cross the
network. With ``m = sum_r m_r`` values per channel (``m_r = N_r`` or ``N_r * H * W`` on rank ``r``):

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
twin); the correction term uses ``x - mu`` and ``inv_std`` kept by the layer itself.
The per-channel sums are reduced in float64 (a few numbers per channel), so the count is exact and
adding K partial sums loses nothing. The synchronised layers keep the parameter and buffer names
and save as the plain layer (``saves_as``): saving, checkpoints and evaluation (which uses the
running statistics, no communication) are unchanged.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import functional as F
from .. import nn
from ..functional.norm import batch_axes, update_running_stats


class _SyncCache:
    """The kernel's cache (opaque: whatever batchnorm_forward returned) and what the correction needs."""

    __slots__ = ("kernel_cache", "m", "xc", "inv_std", "bshape")

    def __init__(self, kernel_cache, m, xc, inv_std, bshape):
        self.kernel_cache, self.m, self.xc, self.inv_std, self.bshape = kernel_cache, m, xc, inv_std, bshape


class SyncBatchNorm:
    """The synchronised forward/backward shared by :class:`SyncBatchNorm1d` and :class:`SyncBatchNorm2d`
    (a mixin placed before the BatchNorm class). ``comm`` is the communicator of the ranks."""

    comm = None

    def _reduce(self, host_sums):
        return self.comm.allreduce_(np.ascontiguousarray(host_sums, dtype=np.float64))

    def forward(self, x):
        if not self.training:  # eval: running statistics, nothing to synchronise
            return super().forward(x)
        self._expect_input(x, self._ndim, self._layout.format(self.num_features), channels=self.num_features)
        xp = backend.array_module(x)
        axes, bshape = batch_axes(x)
        c = x.shape[1]
        sums = self._reduce(np.append(backend.to_numpy(x.sum(axis=axes)), x.size // c))
        m = int(round(sums[c]))
        if m < 2:
            raise ValueError(f"{self.describe()}: training needs more than one value per channel over all ranks, "
                             f"got {m}")
        mu = xp.asarray(sums[:c] / m, dtype=x.dtype)
        xc = x - mu.reshape(bshape)
        var = xp.asarray(self._reduce(backend.to_numpy((xc * xc).sum(axis=axes))) / m, dtype=x.dtype)
        out, cache = F.batchnorm_forward(x, self.weight.data, self.bias.data, {"mean": mu, "var": var}, False,
                                         self.momentum, self.eps)
        update_running_stats({"mean": self.running_mean, "var": self.running_var}, mu, var, m, self.momentum)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        self._cache = _SyncCache(cache, m, xc, inv_std, bshape)
        return out

    def backward(self, dout):
        if not isinstance(self._cache, _SyncCache):  # the forward ran in eval mode (or did not run)
            return super().backward(dout)
        cache = self._take_cache()
        dx, dgamma, dbeta = F.batchnorm_backward(dout, cache.kernel_cache)  # dx = inv_std * gamma * dout
        bshape, inv_std, gamma = cache.bshape, cache.inv_std, self.weight.data
        x_hat = cache.xc * inv_std.reshape(bshape)
        c = dgamma.shape[0]
        sums = self._reduce(np.concatenate([backend.to_numpy(dbeta), backend.to_numpy(dgamma)]))
        xp = backend.array_module(dx)
        s1 = xp.asarray(sums[:c], dtype=dx.dtype).reshape(bshape)
        s2 = xp.asarray(sums[c:], dtype=dx.dtype).reshape(bshape)
        dx = dx - (gamma * inv_std / dx.dtype.type(cache.m)).reshape(bshape) * (s1 + x_hat * s2)
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return dx

    def extra_repr(self):
        return f"{super().extra_repr()}, ranks={self.comm.size}"


class SyncBatchNorm1d(SyncBatchNorm, nn.BatchNorm1d):
    """BatchNorm1d with the statistics of the global batch of all ranks (saved as a BatchNorm1d)."""

    saves_as = nn.BatchNorm1d


class SyncBatchNorm2d(SyncBatchNorm, nn.BatchNorm2d):
    """BatchNorm2d with the statistics of the global batch of all ranks (saved as a BatchNorm2d)."""

    saves_as = nn.BatchNorm2d


_SYNCED = {nn.BatchNorm1d: SyncBatchNorm1d, nn.BatchNorm2d: SyncBatchNorm2d}


def _convert(module, make):
    """``module`` with each child layer replaced by ``make(child)`` where that is not None (recursively)."""
    replaced = make(module)
    if replaced is not None:
        return replaced
    for name, child in list(module.named_children()):
        new = _convert(child, make)
        if new is not child:
            module.replace(name, new)
    return module


def _twin_layer(layer, cls, **attrs):
    """A ``cls`` layer with ``layer``'s settings, the same Parameter objects and buffer arrays, and mode."""
    twin = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum)
    twin.weight, twin.bias = layer.weight, layer.bias
    for name, array in layer.named_buffers():
        twin.register_buffer(name, array)
    for name, value in attrs.items():
        setattr(twin, name, value)
    return twin.train(layer.training)


def sync_batchnorm(model, comm):
    """``model`` with every BatchNorm1d/BatchNorm2d replaced by its synchronised subclass on ``comm``.

    Like ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``: the new layers share the old ones'
    parameters and buffers (so an optimizer built before still updates them). Containers are changed
    in place; returns ``model`` (or the new layer when ``model`` is itself a BatchNorm layer).
    :func:`unsync_batchnorm` undoes it.
    """
    return _convert(model, lambda m: _twin_layer(m, _SYNCED[type(m)], comm=comm) if type(m) in _SYNCED else None)


def unsync_batchnorm(model):
    """``model`` with its synchronised batch norms replaced by plain ones (per-batch, per-rank statistics)."""
    return _convert(model, lambda m: _twin_layer(m, m.saves_as) if isinstance(m, SyncBatchNorm) else None)


def is_synced(layer) -> bool:
    """True if ``layer`` is a synchronised batch norm."""
    return isinstance(layer, SyncBatchNorm)
