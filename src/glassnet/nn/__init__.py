"""Layers as modules: Parameter, Module, Sequential and every layer, activation and loss.

Names and arguments follow PyTorch's ``torch.nn`` (``Linear.weight`` is stored (in, out)).
"""
from .activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, SVMLoss
from .module import Module, Parameter, Sequential, leaf_layers, named_leaf_layers
from .norm import BatchNorm1d, BatchNorm2d
from .pool import AvgPool1d, AvgPool2d, Flatten, GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d, MaxPool2d
from .residual import Residual

LAYERS = {
    cls.__name__: cls
    for cls in (
        Linear, Conv1d, Conv2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, GlobalAvgPool1d, GlobalAvgPool2d,
        Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Dropout, BatchNorm1d, BatchNorm2d,
    )
}
"""Every layer class by name (used to rebuild models from their JSON description)."""

LOSSES = {cls.__name__: cls for cls in (CrossEntropyLoss, SVMLoss, BCELoss, BCEWithLogitsLoss, MSELoss)}

__all__ = [
    "Module", "Parameter", "Sequential", "Residual", "leaf_layers", "named_leaf_layers", "LAYERS", "LOSSES", *LAYERS, *LOSSES,
]
