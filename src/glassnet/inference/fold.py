"""Rewrite a model for inference: batch norm folded into the layer before it, ReLU and max pooling
fused into the convolution or linear layer they follow.

In eval mode batch norm is a fixed per-channel affine map,

    bn(z) = gamma * (z - mean) / sqrt(var + eps) + beta = scale * z + shift,
    scale = gamma / sqrt(var + eps),   shift = beta - scale * mean,

so after a convolution or linear layer z = W x + b it folds into that layer's weights:

    bn(W x + b) = (scale * W) x + (scale * b + shift)     (scale multiplies each output channel's row of W).

ReLU commutes with max pooling (both are monotone: max(relu(a), relu(b)) = relu(max(a, b))), so a
fused "conv + bias + ReLU + max pool" pools first and applies ReLU to the 4x smaller result.
The folding is done in float64 and rounded once to the model's dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn


@dataclass
class Conv:
    """out = maxpool(relu(conv(x, weight) + bias)); ``relu`` and ``pool`` ((size, stride) pairs) optional."""

    weight: np.ndarray  # (F, C, kh, kw)
    bias: np.ndarray    # (F,)
    stride: tuple
    padding: tuple
    relu: bool = False
    pool: tuple | None = None
    layers: tuple = ()  # indices of the model's layers this op replaces


@dataclass
class Linear:
    """out = relu(x.reshape(N, -1) @ weight + bias), ``relu`` optional."""

    weight: np.ndarray  # (D, M)
    bias: np.ndarray    # (M,)
    relu: bool = False
    layers: tuple = ()


@dataclass
class ChannelAffine:
    """A batch norm without a layer to fold into: out[:, c] = relu(scale[c] * x[:, c] + shift[c])."""

    scale: np.ndarray
    shift: np.ndarray
    relu: bool = False
    layers: tuple = ()


@dataclass
class Flatten:
    """out = x.reshape(N, -1) (a view: no copy)."""

    layers: tuple = ()


@dataclass
class GlobalAvgPool:
    """out[n, c] = mean over (H, W) of x[n, c]."""

    layers: tuple = ()


@dataclass
class Layer:
    """Any other layer, run by its own forward (ReLU, pooling, flatten, ... and layers without a fused form)."""

    module: nn.Module
    layers: tuple = ()


def _bn_scale_shift(bn):
    """scale = gamma / sqrt(var + eps), shift = beta - scale * mean, in float64."""
    scale = np.asarray(bn.weight.data, np.float64) / np.sqrt(np.asarray(bn.running_var, np.float64) + bn.eps)
    return scale, np.asarray(bn.bias.data, np.float64) - scale * np.asarray(bn.running_mean, np.float64)


def _conv_is_plain(layer):
    """A convolution the fused kernel computes: no dilation, one group."""
    return getattr(layer, "dilation", (1, 1)) in (1, (1, 1)) and getattr(layer, "groups", 1) == 1


def fold(model):
    """The model's layers as a list of fused ops (:class:`Conv`, :class:`Linear`, :class:`ChannelAffine`,
    :class:`Flatten`, :class:`GlobalAvgPool`, :class:`Layer`). Weights are copies (in the model's dtype): later changes to the model do not reach them.

    Dropout is dropped (the identity in eval mode). Each op records which layer indices it replaces.
    """
    layers = list(model) if isinstance(model, nn.Sequential) else [model]
    ops, i = [], 0
    while i < len(layers):
        layer, start = layers[i], i
        i += 1
        if isinstance(layer, nn.Dropout):
            continue
        if (isinstance(layer, nn.Conv2d) and _conv_is_plain(layer)) or isinstance(layer, nn.Linear):
            dtype = layer.weight.data.dtype
            w = np.asarray(layer.weight.data, np.float64)
            b = np.zeros(w.shape[0 if isinstance(layer, nn.Conv2d) else 1]) if layer.bias is None else \
                np.asarray(layer.bias.data, np.float64)
            bn_type = nn.BatchNorm2d if isinstance(layer, nn.Conv2d) else nn.BatchNorm1d
            if i < len(layers) and type(layers[i]) is bn_type:
                scale, shift = _bn_scale_shift(layers[i])
                w = w * (scale[:, None, None, None] if isinstance(layer, nn.Conv2d) else scale[None, :])
                b = scale * b + shift
                i += 1
            relu = i < len(layers) and type(layers[i]) is nn.ReLU
            i += relu
            w, b = w.astype(dtype), b.astype(dtype)
            if isinstance(layer, nn.Conv2d):
                pool = None
                if i < len(layers) and type(layers[i]) is nn.MaxPool2d:
                    pool = (layers[i].kernel_size, layers[i].stride)
                    i += 1
                ops.append(Conv(w, b, layer.stride, layer.padding, relu, pool, tuple(range(start, i))))
            else:
                ops.append(Linear(w, b, relu, tuple(range(start, i))))
        elif type(layer) in (nn.BatchNorm2d, nn.BatchNorm1d):
            scale, shift = _bn_scale_shift(layer)
            dtype = layer.weight.data.dtype
            relu = i < len(layers) and type(layers[i]) is nn.ReLU
            i += relu
            ops.append(ChannelAffine(scale.astype(dtype), shift.astype(dtype), relu, tuple(range(start, i))))
        elif type(layer) is nn.Flatten:
            ops.append(Flatten((start,)))
        elif type(layer) is nn.GlobalAvgPool2d:
            ops.append(GlobalAvgPool((start,)))
        else:
            ops.append(Layer(layer, (start,)))
    return ops
