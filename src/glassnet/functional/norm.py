"""Batch normalisation for (N, D) features and (N, C, H, W) feature maps."""
from __future__ import annotations

from ..backend import array_module
from . import _numba


def batch_axes(x):
    """The axes the statistics are taken over and the shape that broadcasts per-feature arrays:
    ((0,), (1, D)) for x (N, D); ((0, 2, 3), (1, C, 1, 1)) for x (N, C, H, W) (per channel over N, H, W)."""
    if x.ndim == 2:
        return (0,), (1, x.shape[1])
    if x.ndim == 4:
        return (0, 2, 3), (1, x.shape[1], 1, 1)
    raise ValueError(f"batchnorm_forward: expected input of shape (N, D) or (N, C, H, W), got {tuple(x.shape)}")


def update_running_stats(running, mu, var, m, momentum):
    """PyTorch's running-statistics update, in place, from a batch of m values per feature:

    running["mean"] = (1 - momentum) * running["mean"] + momentum * mu
    running["var"]  = (1 - momentum) * running["var"]  + momentum * var * m / (m - 1)

    ``momentum`` weighs the new value (0.1: keep 90 % of the old), and the biased batch variance
    ``var`` is made unbiased. The one place this convention lives: the reference and compiled
    kernels and synchronised batch norm all call it.
    """
    running["mean"] *= 1 - momentum
    running["mean"] += momentum * mu
    running["var"] *= 1 - momentum
    running["var"] += momentum * var * (m / (m - 1))


def batchnorm_forward(x, gamma, beta, running, train, momentum=0.1, eps=1e-5):
    """Batch normalisation per feature (per channel for 4-D input, over N, H and W).

    train: mu = mean(x), var = mean((x - mu)^2) over the batch (biased), and in place
           (:func:`update_running_stats`, PyTorch's convention; m values per feature)
           running["mean"] = (1 - momentum) * running["mean"] + momentum * mu
           running["var"]  = (1 - momentum) * running["var"]  + momentum * var * m / (m - 1)
    eval:  mu, var = running["mean"], running["var"].
    out = gamma * (x - mu) / sqrt(var + eps) + beta.
    Shapes: x (N, D) or (N, C, H, W); gamma, beta, running arrays (D,) or (C,).
    """
    axes, bshape = batch_axes(x)
    if gamma.shape != (x.shape[1],):
        raise ValueError(
            f"batchnorm_forward: input has {x.shape[1]} features/channels (shape {tuple(x.shape)}) "
            f"but gamma has shape {tuple(gamma.shape)}"
        )
    if train and x.size // x.shape[1] < 2:
        raise ValueError(
            f"batchnorm_forward: training needs more than one value per channel, got input shape {tuple(x.shape)}"
        )
    if x.ndim == 4:
        twin = _numba.twin("norm", x, gamma, beta, running["mean"], running["var"])
        if twin:
            return twin.batchnorm_forward(x, gamma, beta, running, train, momentum, eps)
    xp = array_module(x)
    if train:
        m = x.size // x.shape[1]
        mu = x.mean(axis=axes)
        xc = x - mu.reshape(bshape)
        var = (xc * xc).mean(axis=axes)
        update_running_stats(running, mu, var, m, momentum)
    else:
        mu, var = running["mean"], running["var"]
        xc = x - mu.reshape(bshape)
    inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))
    x_hat = xc * inv_std.reshape(bshape)
    out = gamma.reshape(bshape) * x_hat + beta.reshape(bshape)
    return out, (x_hat, gamma, inv_std, train, axes, bshape)


def batchnorm_backward(dout, cache):
    """Gradients of batch normalisation.

    dbeta = sum dout, dgamma = sum dout * x_hat (over the statistics axes); with
    dx_hat = dout * gamma and m values per feature,
    train: dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))
           (the batch mean and variance depend on x);
    eval:  dx = dx_hat * inv_std (running statistics are constants).
    """
    compiled = _numba.backward_twin("batchnorm", cache)
    if compiled:
        return compiled(dout, cache)
    x_hat, gamma, inv_std, train, axes, bshape = cache
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(bshape)
    if not train:
        return dx_hat * inv_std.reshape(bshape), dgamma, dbeta
    dx = (
        dx_hat
        - dx_hat.mean(axis=axes).reshape(bshape)
        - x_hat * (dx_hat * x_hat).mean(axis=axes).reshape(bshape)
    ) * inv_std.reshape(bshape)
    return dx, dgamma, dbeta
