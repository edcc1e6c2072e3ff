"""Batch normalisation for (N, D) features, (N, C, L) signals and (N, C, H, W) feature maps."""
from __future__ import annotations

from ..backend import array_module
from . import _numba
from .activation import relu_backward, relu_forward


def batch_axes(x):
    """The axes the statistics are taken over and the shape that broadcasts per-feature arrays:
    ((0,), (1, D)) for x (N, D); ((0, 2), (1, C, 1)) for x (N, C, L) (per channel over N, L);
    ((0, 2, 3), (1, C, 1, 1)) for x (N, C, H, W) (per channel over N, H, W)."""
    if x.ndim == 2:
        return (0,), (1, x.shape[1])
    if x.ndim == 3:
        return (0, 2), (1, x.shape[1], 1)
    if x.ndim == 4:
        return (0, 2, 3), (1, x.shape[1], 1, 1)
    raise ValueError(f"batchnorm_forward: expected input of shape (N, D), (N, C, L) or (N, C, H, W), got {tuple(x.shape)}")


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
    """Batch normalisation per feature (per channel over N and L, or N, H and W, for 3-D and 4-D input).

    train: mu = mean(x), var = mean((x - mu)^2) over the batch (biased), and in place
           (:func:`update_running_stats`, PyTorch's convention; m values per feature)
           running["mean"] = (1 - momentum) * running["mean"] + momentum * mu
           running["var"]  = (1 - momentum) * running["var"]  + momentum * var * m / (m - 1)
    eval:  mu, var = running["mean"], running["var"].
    out = gamma * (x - mu) / sqrt(var + eps) + beta.
    Shapes: x (N, D), (N, C, L) or (N, C, H, W); gamma, beta, running arrays (D,) or (C,).
    """
    twin = _checked_twin(x, gamma, beta, running, train)
    if twin:
        return twin.batchnorm_forward(x, gamma, beta, running, train, momentum, eps)
    return _reference_forward(x, gamma, beta, running, train, momentum, eps)


def _reference_forward(x, gamma, beta, running, train, momentum, eps):
    """batchnorm_forward in array operations, on input already checked (:func:`_checked_twin`)."""
    axes, bshape = batch_axes(x)
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


def _checked_twin(x, gamma, beta, running, train):
    """Checks batch norm's input (errors name both shapes); returns the compiled twin module when it
    runs on these arrays ((N, C, L) and (N, C, H, W) input), else None."""
    batch_axes(x)
    if gamma.shape != (x.shape[1],):
        raise ValueError(
            f"batchnorm_forward: input has {x.shape[1]} features/channels (shape {tuple(x.shape)}) "
            f"but gamma has shape {tuple(gamma.shape)}"
        )
    if train and x.size // x.shape[1] < 2:
        raise ValueError(
            f"batchnorm_forward: training needs more than one value per channel, got input shape {tuple(x.shape)}"
        )
    return _numba.twin("norm", x, gamma, beta, running["mean"], running["var"]) if x.ndim >= 3 else None


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


def batchnorm_relu_forward(x, gamma, beta, running, train, momentum=0.1, eps=1e-5):
    """out = max(0, batchnorm_forward(x, gamma, beta, running, train, momentum, eps)): batch norm then
    ReLU, the pair in every conv-BN-ReLU block. Returns (out, (batch norm's cache, ReLU's cache)).

    The reference runs the two kernels one after the other. The compiled twin ((N, C, L) and
    (N, C, H, W) input) writes max(., 0) in batch norm's own second pass, so the output before ReLU is
    never stored; its values and caches are the same, and either backward takes them.
    """
    twin = _checked_twin(x, gamma, beta, running, train)
    if twin:
        return twin.batchnorm_relu_forward(x, gamma, beta, running, train, momentum, eps)
    a, bn_cache = _reference_forward(x, gamma, beta, running, train, momentum, eps)
    out, relu_cache = relu_forward(a)
    return out, (bn_cache, relu_cache)


def batchnorm_relu_backward(dout, cache):
    """dx, dgamma, dbeta of :func:`batchnorm_relu_forward`: ReLU's backward, da = dout * (out > 0),
    then batch norm's. The compiled twin (both caches compiled) reads dout and the ReLU output in
    batch norm's two passes instead of storing da."""
    compiled = _numba.fused_backward_twin("batchnorm_relu", cache)
    if compiled:
        return compiled(dout, cache)
    bn_cache, relu_cache = cache
    return batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
