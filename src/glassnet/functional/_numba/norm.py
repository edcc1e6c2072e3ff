"""Compiled twin of ``functional/norm.py`` for (N, C, L) and (N, C, H, W) input: batch norm in two passes per direction.

The reference computes ``mu``, ``xc = x - mu``, ``var``, ``inv_std``, ``x_hat`` and ``out`` as
whole-array steps (each a temporary the size of x). Here:

* forward: one pass of per-channel sums gives ``mu`` and ``var`` (``_batch_stats``), one pass
  writes ``out = (x - mu) * scale + beta`` with ``scale = gamma * inv_std`` (``_normalize``), so
  ``x_hat`` is never stored;
* backward: one pass of per-channel sums gives ``dbeta`` and ``sum dout * (x - mu)``
  (``_backward_sums``), one pass writes dx (``_backward_apply``);
* batch norm followed by ReLU (``batchnorm_relu_forward`` / ``batchnorm_relu_backward``, twins of the
  reference's pair in ``functional/norm.py``): the forward's second pass writes ``max(out, 0)``, and the backward's
  passes read ReLU's gradient ``dout * (out > 0)`` from dout and the ReLU output as they go, so
  neither the output before ReLU nor ReLU's gradient is ever stored (CIFAR net, one thread, the
  first 32-channel layer at batch 128: forward 3.7 -> 2.2 ms, backward 5.5-6.0 -> 5.1 ms).

Sums run in float64, vectorised: the compiler may reorder the additions of a sum (``jit.REORDERED_SUMS``),
always the same way for a given shape, and each channel's sums are computed by one thread, whatever
the thread count. A thread's channels are read in memory order, image by image (the channels of one
image one contiguous block), each channel's sums still added image after image: channel by channel,
every plane was a jump of C*H*W values from the last, which the hardware prefetcher does not follow
when planes are small (one thread, batch 128, forward / backward sums in ms: 64 channels on 8x8
0.13 / 0.26 -> 0.09 / 0.14, 32 on 16x16 0.21 / 0.34 -> 0.15 / 0.29, 32 on 32x32 0.69 / 1.25 ->
0.57 / 1.14; ResNet-20 training steps 0.965x the time on one thread, 0.989x on two). The cache
holds x (not x_hat), mu and inv_std.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u8

from ..norm import update_running_stats
from . import CompiledCache
from .activation import relu_grad, relu_value
from .jit import REORDERED_SUMS, kernel
from .threads import parallel

PASS_WEIGHT = 4
"""Each pass of batch norm counts as this many element-wise passes against ``threads.PARALLEL_MIN``
(it reads two or three arrays, sums in float64 or applies per-channel factors), so its passes are
shared between the threads from 256K values instead of 1M. Measured on two threads, ResNet-20 at
batch 128 (its last stage's maps hold 512K values): training step 0.87-0.88x -> 0.88-0.91x PyTorch
(7 interleaved rounds). Sharing every element-wise kernel from 256K values instead cost LeNet-5 at
batch 64 1.02-1.06x -> 0.93-0.97x: a pass of ReLU or pooling that small gains less than the hand-off."""

@njit(inline="always")
def _shifted_sums(v, shift):  # pragma: no cover - compiled
    """(sum(v - shift), sum((v - shift)^2)) in float64."""
    s = 0.0
    q = 0.0
    for i in range(u8(v.size)):
        d = np.float64(v[i]) - shift
        s += d
        q += d * d
    return s, q


@njit(inline="always")
def _dot_sums(dv, v, center, relu_out):  # pragma: no cover - compiled
    """(sum(g), sum(g * (v - center))) in float64, g = dv, or g = dv where relu_out > 0 else 0 (ReLU's
    gradient) when the ReLU output ``relu_out`` is given (not None)."""
    s = 0.0
    q = 0.0
    for i in range(u8(v.size)):
        g = np.float64(dv[i] if relu_out is None else relu_grad(dv[i], relu_out[i]))
        s += g
        q += g * (np.float64(v[i]) - center)
    return s, q


@kernel(**REORDERED_SUMS)
def _batch_stats(x, mu, var, lo, hi):  # pragma: no cover - compiled
    """Per channel lo <= c < hi of x (N, C, M): mu = sum(x) / (N*M) and the biased var = sum((x - mu)^2) / (N*M),
    from one pass of shifted sums around the channel's first value K:
    mu = K + S1/m, var = S2/m - (S1/m)^2 with S1 = sum(x - K), S2 = sum((x - K)^2) in float64.
    The planes are read in memory order (image by image, the channels lo..hi of an image one block),
    each channel's sums still added image after image."""
    n, m = x.shape[0], x.shape[2]
    total = n * m
    s1, s2 = np.zeros(hi - lo), np.zeros(hi - lo)
    for i in range(n):
        for c in range(lo, hi):
            a, b = _shifted_sums(x[i, c], np.float64(x[0, c, 0]))
            s1[c - lo] += a
            s2[c - lo] += b
    for c in range(lo, hi):
        d = s1[c - lo] / total
        mu[c] = np.float64(x[0, c, 0]) + d
        var[c] = max(s2[c - lo] / total - d * d, 0.0)


@kernel
def _normalize(x, mu, scale, beta, relu, out, lo, hi):  # pragma: no cover - compiled
    """out[n, c, :] = (x[n, c, :] - mu[c]) * scale[c] + beta[c] (= gamma * x_hat + beta with
    scale = gamma * inv_std), then max(., 0) if ``relu``, for the (n, c) planes t = n*C + c in lo <= t < hi."""
    c_, m = x.shape[1], x.shape[2]
    for t in range(lo, hi):
        i, c = t // c_, t % c_
        mu_c, scale_c, beta_c = mu[c], scale[c], beta[c]
        src, dst = x[i, c], out[i, c]
        if relu:
            for j in range(m):
                dst[j] = relu_value((src[j] - mu_c) * scale_c + beta_c)
        else:
            for j in range(m):
                dst[j] = (src[j] - mu_c) * scale_c + beta_c


@kernel(**REORDERED_SUMS)
def _backward_sums(dout, x, mu, relu_out, dbeta, dout_xc, lo, hi):  # pragma: no cover - compiled
    """Per channel lo <= c < hi: dbeta = sum g, dout_xc = sum g * (x - mu) (float64 accumulators), with
    g = dout, or ReLU's gradient dout * (relu_out > 0) when ``relu_out`` (N, C, M) is given (not None).
    Read in memory order, as in _batch_stats."""
    n = x.shape[0]
    s1, s2 = np.zeros(hi - lo), np.zeros(hi - lo)
    for i in range(n):
        for c in range(lo, hi):
            a, b = _dot_sums(dout[i, c], x[i, c], np.float64(mu[c]), None if relu_out is None else relu_out[i, c])
            s1[c - lo] += a
            s2[c - lo] += b
    dbeta[lo:hi] = s1
    dout_xc[lo:hi] = s2


@kernel
def _backward_apply(dout, x, mu, relu_out, scale, mean_dout, x_hat_slope, dx, lo, hi):  # pragma: no cover - compiled
    """dx[n, c, :] = scale[c] * (g - mean_dout[c] - (x - mu[c]) * x_hat_slope[c]) for the planes
    lo <= n*C + c < hi, g as in _backward_sums (see batchnorm_backward for what the per-channel factors are)."""
    c_, m = x.shape[1], x.shape[2]
    for t in range(lo, hi):
        i, c = t // c_, t % c_
        mu_c, scale_c, mean_c, slope_c = mu[c], scale[c], mean_dout[c], x_hat_slope[c]
        g, src, dst = dout[i, c], x[i, c], dx[i, c]
        if relu_out is None:
            for j in range(m):
                dst[j] = scale_c * (g[j] - mean_c - (src[j] - mu_c) * slope_c)
        else:
            kept = relu_out[i, c]
            for j in range(m):
                dst[j] = scale_c * (relu_grad(g[j], kept[j]) - mean_c - (src[j] - mu_c) * slope_c)


def batchnorm_forward(x, gamma, beta, running, train, momentum=0.1, eps=1e-5):
    """The reference's batch norm of x (N, C, L) or (N, C, H, W): train mu, var from the batch (biased;
    running statistics updated in place with the unbiased variance), eval the running statistics;
    out = gamma * (x - mu) * inv_std + beta, inv_std = 1 / sqrt(var + eps)."""
    out, cache = _forward(x, gamma, beta, running, train, momentum, eps, relu=False)
    return out.reshape(x.shape), cache


def batchnorm_relu_forward(x, gamma, beta, running, train, momentum=0.1, eps=1e-5):
    """out = max(batchnorm_forward(x, ...), 0) in the same two passes (the second writes max(., 0)).
    Returns (out, (batch norm's cache, ReLU's cache)): the caches batchnorm_forward and
    relu_forward would have returned, so either backward (fused or part by part) takes them."""
    out, cache = _forward(x, gamma, beta, running, train, momentum, eps, relu=True)
    out = out.reshape(x.shape)
    return out, (cache, CompiledCache(("relu", out)))


def _forward(x, gamma, beta, running, train, momentum, eps, relu):
    """batchnorm_forward's out as (N, C, M), then max(., 0) if ``relu``, and its cache."""
    n, c = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(n, c, -1)
    dtype = x.dtype
    if train:
        m = x3.shape[0] * x3.shape[2]
        mu64, var64 = np.empty(c), np.empty(c)
        parallel(c, lambda lo, hi: _batch_stats(x3, mu64, var64, lo, hi), PASS_WEIGHT * x.size)
        mu, var = mu64.astype(dtype), var64.astype(dtype)
        update_running_stats(running, mu, var, m, momentum)
    else:
        mu, var = running["mean"], running["var"]
    inv_std = (1 / np.sqrt(var + dtype.type(eps))).astype(dtype)
    scale = (gamma * inv_std).astype(dtype)
    out = np.empty(x3.shape, dtype=dtype)
    mu, beta = np.ascontiguousarray(mu, dtype=dtype), np.ascontiguousarray(beta, dtype=dtype)
    parallel(n * c, lambda lo, hi: _normalize(x3, mu, scale, beta, relu, out, lo, hi), PASS_WEIGHT * x.size)
    return out, CompiledCache(("batchnorm", x3, x.shape, mu.copy(), inv_std, gamma, train))


def batchnorm_backward(dout, cache):
    """The reference's gradients with x_hat = (x - mu) * inv_std recomputed on the fly:

    dbeta = sum dout, dgamma = sum dout * x_hat = inv_std * sum dout * (x - mu);
    train: dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), dx_hat = gamma * dout,
           = scale * (dout - mean_dout - (x - mu) * x_hat_slope) with scale = gamma * inv_std,
           mean_dout = dbeta / m and x_hat_slope = inv_std * dgamma / m;
    eval:  dx = scale * dout (mean_dout = x_hat_slope = 0).
    """
    return _backward(dout, cache, None)


def batchnorm_relu_backward(dout, cache):
    """batchnorm_backward(relu_backward(dout, relu_cache), bn_cache), cache = (bn_cache, relu_cache),
    without storing ReLU's gradient dout * (out > 0): both passes read dout and the ReLU output instead."""
    bn_cache, (_, relu_out) = cache
    return _backward(dout, bn_cache, relu_out)


def _backward(dout, cache, relu_out):
    """batchnorm_backward of g = dout, or of ReLU's gradient g = dout * (relu_out > 0) when given."""
    _, x3, x_shape, mu, inv_std, gamma, train = cache
    n, c, hw = x3.shape
    dtype = x3.dtype
    dout3 = np.ascontiguousarray(dout, dtype=dtype).reshape(n, c, hw)
    kept = None if relu_out is None else relu_out.reshape(n, c, hw)
    dbeta64, dout_xc64 = np.empty(c), np.empty(c)
    parallel(c, lambda lo, hi: _backward_sums(dout3, x3, mu, kept, dbeta64, dout_xc64, lo, hi), PASS_WEIGHT * x3.size)
    dbeta = dbeta64.astype(dtype)
    dgamma = (dout_xc64 * inv_std).astype(dtype)
    scale = (gamma * inv_std).astype(dtype)
    if train:
        m = n * hw
        mean_dout = (dbeta64 / m).astype(dtype)
        x_hat_slope = (dout_xc64 * inv_std.astype(np.float64) ** 2 / m).astype(dtype)
    else:
        mean_dout = np.zeros(c, dtype)
        x_hat_slope = np.zeros(c, dtype)
    dx = np.empty((n, c, hw), dtype=dtype)
    parallel(n * c, lambda lo, hi: _backward_apply(dout3, x3, mu, kept, scale, mean_dout, x_hat_slope, dx, lo, hi),
             PASS_WEIGHT * x3.size)
    return dx.reshape(x_shape), dgamma, dbeta
