"""The model zoo: builders that adapt to the data's input shape and class count.

Image models take ``input_shape`` (C, H, W), the signal model ``cnn1d`` takes (C, L);
``two_layer_net`` flattens anything. Every builder returns an ``nn.Sequential`` (so it can be saved,
exported and cut), takes a ``seed`` for its initial weights, and is selectable by name through
:func:`build_model`.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import nn
from ..errors import InputError
from ..functional import output_size


ACTIVATION = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def mlp(in_features, hidden, num_classes, activation="relu", init="he", batchnorm=False, dropout=0.0,
        input_dropout=0.0, rng=None, output=None, output_init=None):
    """Flatten -> (Dropout) -> [Linear -> (BatchNorm1d) -> activation -> (Dropout)] per width in ``hidden``
    -> Linear (-> ``output`` layer, e.g. Sigmoid). ``hidden=()`` gives a linear classifier.

    ``init`` initialises the hidden Linear layers, ``output_init`` the last one (default: ``init``).
    The one MLP builder: the zoo's two-layer net, the benchmark's MLP and the experiments use it.
    """
    layers, d = [nn.Flatten()], int(in_features)
    if input_dropout:
        layers.append(nn.Dropout(input_dropout))
    for width in hidden:
        layers.append(nn.Linear(d, width, init=init, rng=rng))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATION[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = width
    layers.append(nn.Linear(d, num_classes, init=init if output_init is None else output_init, rng=rng))
    if output is not None:
        layers.append(output)
    return nn.Sequential(*layers)


def _image_shape(model, input_shape):
    """(C, H, W) of ``input_shape``, or a ValueError saying that ``model`` takes images."""
    if len(input_shape) != 3:
        hint = " (signals (C, L) go to cnn1d)" if len(input_shape) == 2 else ""
        raise InputError(f"{model} takes images of shape (C, H, W), got input shape {tuple(input_shape)}{hint}")
    return input_shape


def _signal_shape(model, input_shape):
    """(C, L) of ``input_shape``, or a ValueError saying that ``model`` takes signals."""
    if len(input_shape) != 2:
        raise InputError(f"{model} takes signals of shape (C, L), got input shape {tuple(input_shape)}")
    return input_shape


def two_layer_net(input_shape, num_classes, hidden=256, dropout=0.0, seed=0):
    """INPUT -> FC(hidden) -> ReLU -> [Dropout] -> FC(classes): the classic two-layer network."""
    return mlp(int(np.prod(input_shape)), [hidden], num_classes, init="he", dropout=dropout,
               rng=np.random.default_rng(seed), output_init="default")


def classic_cnn(input_shape, num_classes, channels=(32, 64), hidden=128, dropout=0.25, seed=0):
    """INPUT -> CONV -> ReLU -> POOL -> CONV -> ReLU -> POOL -> FC -> ReLU -> [Dropout] -> FC.

    3x3 convolutions with padding 1 keep the spatial size; each 2x2 max pool halves it.
    """
    rng = np.random.default_rng(seed)
    c, h, w = _image_shape("classic_cnn", input_shape)
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
    c, h, w = _image_shape("lenet5", input_shape)
    layers = []
    for out_c in (6, 16):
        pad = 0 if min(h, w) >= 32 or (out_c == 16 and min(h, w) >= 10) else 2
        layers += [nn.Conv2d(c, out_c, 5, padding=pad, init="he", rng=rng), nn.ReLU()]
        h, w = output_size("lenet5", h, 5, 1, pad), output_size("lenet5", w, 5, 1, pad)
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
    c, h, w = _image_shape("vgg_small", input_shape)
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


def _conv_bn(c_in, c_out, kernel, stride, rng, conv=nn.Conv2d, bn=nn.BatchNorm2d):
    """[conv (no bias: BN's beta takes its place) -> BN], "same" padding for odd kernels."""
    return [conv(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False, init="he", rng=rng), bn(c_out)]


def basic_block(c_in, c_out, stride, rng):
    """The ResNet basic block: relu(body(x) + shortcut(x)) with body = conv3x3(stride)-BN-ReLU-conv3x3-BN
    and, where the shape changes (stride or width), the projection shortcut conv1x1(stride)-BN."""
    body = nn.Sequential(*_conv_bn(c_in, c_out, 3, stride, rng), nn.ReLU(), *_conv_bn(c_out, c_out, 3, 1, rng))
    shortcut = nn.Sequential(*_conv_bn(c_in, c_out, 1, stride, rng)) if stride != 1 or c_in != c_out else None
    return [nn.Residual(body, shortcut), nn.ReLU()]


def resnet20(input_shape, num_classes, blocks=3, widths=(16, 32, 64), seed=0):
    """The CIFAR ResNet of He et al. (2016), depth 6*blocks + 2 (20 with the default 3 blocks per stage).

    conv3x3(16)-BN-ReLU, then 3 stages of ``blocks`` basic blocks at 16, 32 and 64 channels (the first
    block of stages 2 and 3 halves the map with stride 2 and has a projection shortcut), global
    average pooling and one FC layer: about 0.27 M parameters for 10 classes.
    """
    rng = np.random.default_rng(seed)
    c, _, _ = _image_shape("resnet20", input_shape)
    layers = [*_conv_bn(c, widths[0], 3, 1, rng), nn.ReLU()]
    c = widths[0]
    for stage, width in enumerate(widths):
        for b in range(blocks):
            layers += basic_block(c, width, 2 if stage > 0 and b == 0 else 1, rng)
            c = width
    layers += [nn.GlobalAvgPool2d(), nn.Linear(c, num_classes, rng=rng)]
    return nn.Sequential(*layers)


def cnn1d(input_shape, num_classes, channels=(16, 32, 64), kernel_size=5, dropout=0.0, seed=0):
    """A small 1-D CNN for signals (C, L): per width, conv1d(kernel_size, "same")-BN-ReLU-maxpool(2)
    (pooling while the signal is at least 2 long), then global average pooling, [dropout] and one FC layer."""
    rng = np.random.default_rng(seed)
    c, length = _signal_shape("cnn1d", input_shape)
    layers = []
    for out_c in channels:
        layers += [*_conv_bn(c, out_c, kernel_size, 1, rng, nn.Conv1d, nn.BatchNorm1d), nn.ReLU()]
        if length >= 2:
            layers.append(nn.MaxPool1d(2))
            length //= 2
        c = out_c
    layers.append(nn.GlobalAvgPool1d())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(c, num_classes, rng=rng))
    return nn.Sequential(*layers)


MODELS = {"two_layer_net": two_layer_net, "classic_cnn": classic_cnn, "lenet5": lenet5, "vgg_small": vgg_small,
          "resnet20": resnet20, "cnn1d": cnn1d}
SIGNAL_MODELS = ("cnn1d",)
"""Zoo models whose input is a signal (C, L); the others take images (C, H, W) (two_layer_net: anything)."""


def build_model(name, input_shape, num_classes, dropout=None, **kwargs):
    """Build the zoo model ``name`` for inputs of ``input_shape`` ((C, H, W), or (C, L) for signal models)
    and ``num_classes`` classes.

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
