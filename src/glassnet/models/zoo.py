"""The model zoo: builders that adapt to the data's input shape (C, H, W) and class count.

Every builder returns an ``nn.Sequential`` (so it can be saved, exported and cut), takes a ``seed``
for its initial weights, and is selectable by name through :func:`build_model`.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import nn
from ..errors import InputError


def _conv_out(size, kernel, pad, stride=1):
    return (size + 2 * pad - kernel) // stride + 1


def two_layer_net(input_shape, num_classes, hidden=256, dropout=0.0, seed=0):
    """INPUT -> FC(hidden) -> ReLU -> [Dropout] -> FC(classes): the classic two-layer network."""
    rng = np.random.default_rng(seed)
    d = int(np.prod(input_shape))
    layers = [nn.Flatten(), nn.Linear(d, hidden, init="he", rng=rng), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, num_classes, rng=rng))
    return nn.Sequential(*layers)


def classic_cnn(input_shape, num_classes, channels=(32, 64), hidden=128, dropout=0.25, seed=0):
    """INPUT -> CONV -> ReLU -> POOL -> CONV -> ReLU -> POOL -> FC -> ReLU -> [Dropout] -> FC.

    3x3 convolutions with padding 1 keep the spatial size; each 2x2 max pool halves it.
    """
    rng = np.random.default_rng(seed)
    c, h, w = input_shape
    layers = []
    for out_c in channels:
        layers += [nn.Conv2d(c, out_c, 3, padding=1, init="he", rng=rng), nn.ReLU()]
        if min(h, w) >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = out_c
    layers += [nn.Flatten(), nn.Linear(c * h * w, hidden, init="he", rng=rng), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, num_classes, rng=rng))
    return nn.Sequential(*layers)


def lenet5(input_shape, num_classes, dropout=0.0, seed=0):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as in most modern re-implementations.

    C1 conv5x5(6) -> pool -> C3 conv5x5(16) -> pool -> C5 FC(120) -> F6 FC(84) -> FC(classes).
    On 32x32 inputs C1 uses no padding (28x28 maps as in the paper); on smaller inputs (MNIST 28x28,
    digits 8x8) the convolutions pad by 2 so the maps keep enough size.
    """
    rng = np.random.default_rng(seed)
    c, h, w = input_shape
    layers = []
    for out_c in (6, 16):
        pad = 0 if min(h, w) >= 32 or (out_c == 16 and min(h, w) >= 10) else 2
        layers += [nn.Conv2d(c, out_c, 5, padding=pad, init="he", rng=rng), nn.ReLU()]
        h, w = _conv_out(h, 5, pad), _conv_out(w, 5, pad)
        if min(h, w) >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = out_c
    layers += [nn.Flatten(), nn.Linear(c * h * w, 120, init="he", rng=rng), nn.ReLU(),
               nn.Linear(120, 84, init="he", rng=rng), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(84, num_classes, rng=rng))
    return nn.Sequential(*layers)


def vgg_small(input_shape, num_classes, channels=(32, 64), convs_per_block=2, dropout=0.3, seed=0):
    """A small VGG: blocks of [conv3x3 -> BN -> ReLU] x convs_per_block -> maxpool, then global average
    pooling, dropout and one FC layer (no large FC head: GAP leaves C parameters per class)."""
    rng = np.random.default_rng(seed)
    c, h, w = input_shape
    layers = []
    for out_c in channels:
        for _ in range(convs_per_block):
            layers += [nn.Conv2d(c, out_c, 3, padding=1, bias=False, init="he", rng=rng), nn.BatchNorm2d(out_c), nn.ReLU()]
            c = out_c
        if min(h, w) >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    layers.append(nn.GlobalAvgPool2d())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(c, num_classes, rng=rng))
    return nn.Sequential(*layers)


MODELS = {"two_layer_net": two_layer_net, "classic_cnn": classic_cnn, "lenet5": lenet5, "vgg_small": vgg_small}


def build_model(name, input_shape, num_classes, dropout=None, **kwargs):
    """Build the zoo model ``name`` for inputs of ``input_shape`` (C, H, W) and ``num_classes`` classes.

    ``dropout`` (if not None) overrides the model's dropout probability; a model without a dropout
    option is refused. Other keywords (``seed``, widths) go to the builder.
    """
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    builder = MODELS[name]
    if dropout is not None:
        if "dropout" not in inspect.signature(builder).parameters:
            raise InputError(f"model {name!r} has no dropout option")
        kwargs["dropout"] = dropout
    return builder(tuple(input_shape), int(num_classes), **kwargs)
