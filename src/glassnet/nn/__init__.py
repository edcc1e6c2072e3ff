"""Layers as modules: Parameter, Module, Sequential and every layer, activation and loss.

Names and arguments follow PyTorch's ``torch.nn`` (``Linear.weight`` is stored (in, out)).
"""
from .activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, SVMLoss
from .module import Module, Parameter, Sequential, leaf_layers
from .norm import BatchNorm1d, BatchNorm2d
from .pool import AvgPool2d, Flatten, GlobalAvgPool2d, MaxPool2d

LAYERS = {
    cls.__name__: cls
    for cls in (
        Linear, Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh,
        Softmax, Dropout, BatchNorm1d, BatchNorm2d,
    )
}
"""Every layer class by name (used to rebuild models from their JSON description)."""

LOSSES = {cls.__name__: cls for cls in (CrossEntropyLoss, SVMLoss, BCELoss, BCEWithLogitsLoss, MSELoss)}

__all__ = [
    "Module", "Parameter", "Sequential", "leaf_layers", "LAYERS", "LOSSES", *LAYERS, *LOSSES,
]
