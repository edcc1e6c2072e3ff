"""Sandwich layers: common chains of kernels under cs231n's names, for code written in that style.

Each ``NAME_forward`` runs its parts in order and returns ``(out, cache)``, ``cache`` holding the parts'
caches; ``NAME_backward(dout, cache)`` applies the chain rule through the parts in reverse
order and returns the gradients of the inputs in input order. Nothing is computed here that the parts
do not compute themselves: a sandwich is exactly its parts, one after the other.

cs231n passes ``conv_param = {'stride': s, 'pad': p}``, ``pool_param = {'pool_height': k, 'pool_width':
k, 'stride': s}`` and ``bn_param = {'mode': 'train', 'momentum': 0.9, ...}``; here they are keyword
arguments (``stride=``, ``pad=``, ``pool_size=``, ``pool_stride=``) and batch norm takes its ``running``
dict, ``train`` and PyTorch's ``momentum`` (the weight of the new batch: 0.1, not cs231n's 0.9).
"""
from __future__ import annotations

from .activation import relu_backward, relu_forward
from .conv import conv_backward, conv_forward
from .linear import affine_backward, affine_forward
from .norm import batchnorm_relu_backward, batchnorm_relu_forward
from .pool import max_pool_backward, max_pool_forward


def _then_relu(forward, *args):
    """``forward(*args)`` followed by ReLU; the cache is (forward's cache, ReLU's cache)."""
    a, cache = forward(*args)
    out, relu_cache = relu_forward(a)
    return out, (cache, relu_cache)


def _then_relu_backward(backward, dout, cache):
    """da = dout * (a > 0) (ReLU's backward), then ``backward(da, forward's cache)``."""
    inner_cache, relu_cache = cache
    return backward(relu_backward(dout, relu_cache), inner_cache)


def affine_relu_forward(x, w, b):
    """out = max(0, x2 @ w + b), x2 = x flattened to (N, D); w (D, M), b (M,) -> out (N, M)."""
    return _then_relu(affine_forward, x, w, b)


def affine_relu_backward(dout, cache):
    """ReLU's backward, then dx, dw, db of the affine map."""
    return _then_relu_backward(affine_backward, dout, cache)


def affine_bn_relu_forward(x, w, b, gamma, beta, running, train, momentum=0.1, eps=1e-5):
    """out = max(0, BN(x2 @ w + b)), BN(a) = gamma * (a - mu) / sqrt(var + eps) + beta per feature.

    ``running``, ``train``, ``momentum`` and ``eps`` are those of :func:`batchnorm_forward` (the running
    statistics are updated in place in train mode; momentum weights the new batch, as in PyTorch).
    """
    a, fc_cache = affine_forward(x, w, b)
    out, bn_relu_cache = batchnorm_relu_forward(a, gamma, beta, running, train, momentum, eps)
    return out, (fc_cache, bn_relu_cache)


def affine_bn_relu_backward(dout, cache):
    """ReLU, then batch norm, then the affine map, backwards: returns dx, dw, db, dgamma, dbeta."""
    fc_cache, bn_relu_cache = cache
    da, dgamma, dbeta = batchnorm_relu_backward(dout, bn_relu_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_forward(x, w, b, stride=1, pad=0, dilation=1, groups=1):
    """out = max(0, conv(x, w) + b): :func:`conv_forward` (same stride, pad, dilation, groups) followed by ReLU."""
    return _then_relu(conv_forward, x, w, b, stride, pad, dilation, groups)


def conv_relu_backward(dout, cache):
    """ReLU's backward, then dx, dw, db of the convolution."""
    return _then_relu_backward(conv_backward, dout, cache)


def conv_relu_pool_forward(x, w, b, stride=1, pad=0, pool_size=2, pool_stride=2, dilation=1, groups=1):
    """out = maxpool(max(0, conv(x, w) + b)): conv (stride, pad, dilation, groups), ReLU, max pooling
    (pool_size, pool_stride).

    x (N, C, H, W) -> (N, F, Ho, Wo) after the convolution -> (N, F, (Ho - pool_size) // pool_stride + 1, ...).
    """
    r, conv_relu_cache = conv_relu_forward(x, w, b, stride, pad, dilation, groups)
    out, pool_cache = max_pool_forward(r, pool_size, pool_stride)
    return out, (conv_relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Max pooling (gradient to each window's first maximum), then conv_relu, backwards."""
    conv_relu_cache, pool_cache = cache
    return conv_relu_backward(max_pool_backward(dout, pool_cache), conv_relu_cache)
