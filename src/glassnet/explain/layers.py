"""Which layer types the page can explain, and what each one's unit panel needs.

The registry maps a layer class to a :class:`LayerKind`: the name of the panel the page draws when
a unit of that layer's output is clicked (``unit``, one of :data:`UNITS`, drawn by ``page.js``) and
a function giving the numbers that panel needs beyond the layer's input, output and parameters
(stride, statistics, the largest terms, ...). A new layer plugs in with one :func:`register` call
(and its one-line text in :mod:`glassnet.explain.texts`); a layer that is not registered is refused
by :func:`kind_of` with its name and the supported ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import nn
from ..errors import InputError
from .arrays import encode

UNITS = ("conv", "max_pool", "avg_pool", "global_avg_pool", "elementwise", "softmax", "batchnorm", "affine",
         "flatten", "dropout", "residual")
"""The unit panels page.js knows how to draw."""

TOP_TERMS = 8
"""How many of a Linear unit's terms w_ij * x_i the page lists (the largest in magnitude)."""


@dataclass(frozen=True)
class LayerKind:
    """How the page explains one layer type: its unit panel and the extra numbers it needs."""

    name: str  # the registered class's name: the key of its texts in glassnet.explain.texts.LAYERS
    unit: str
    details: Callable = None  # details(layer, x, out) -> dict; x, out: one sample, float64, no batch axis

    def describe(self, layer, x, out) -> dict:
        return self.details(layer, x, out) if self.details else {}


REGISTRY: dict = {}
"""Layer class -> LayerKind."""


def register(layer_type, unit: str, details: Callable = None):
    """Let the page explain ``layer_type`` with the ``unit`` panel (and ``details`` for its numbers)."""
    if unit not in UNITS:
        raise ValueError(f"register: unknown unit panel {unit!r}; known: {', '.join(UNITS)}")
    REGISTRY[layer_type] = LayerKind(layer_type.__name__, unit, details)


def kind_of(layer) -> LayerKind:
    """The LayerKind of ``layer`` (its class or nearest registered base class); InputError if none."""
    for cls in type(layer).__mro__:
        if cls in REGISTRY:
            return REGISTRY[cls]
    supported = ", ".join(sorted(cls.__name__ for cls in REGISTRY))
    where = f"layer '{layer._name}' " if getattr(layer, "_name", "") else ""
    raise InputError(f"explain: {where}{type(layer).__name__} is not supported by the page; supported layers: {supported}")


def _rows_cols(v, x, single_row):
    """A window setting as [rows, columns], the page's layout: an int or pair for a 2-D layer; for a 1-D
    layer (input (C, L), drawn as one row of L) the columns take ``v`` and the row ``single_row``."""
    values = [int(a) for a in np.ravel(v)]
    if x.ndim == 2:
        return [single_row, values[-1]]
    return values * 2 if len(values) == 1 else values


def _conv(layer, x, out):
    return {"stride": _rows_cols(layer.stride, x, 1), "pad": _rows_cols(layer.padding, x, 0),
            "dilation": _rows_cols(getattr(layer, "dilation", 1), x, 1), "groups": int(getattr(layer, "groups", 1))}


def _window(layer, x, out):
    return {"kernel": _rows_cols(layer.kernel_size, x, 1), "stride": _rows_cols(layer.stride, x, 1)}


def _batchnorm(layer, x, out):
    """The statistics the forward used: the running ones (the page explains the model in eval mode)."""
    return {"mean": encode(layer.running_mean), "var": encode(layer.running_var), "gamma": encode(layer.weight.data),
            "beta": encode(layer.bias.data), "eps": layer.eps}


def _affine(layer, x, out, block=1 << 20):
    """Per output unit j, the TOP_TERMS largest terms x_i * W[i, j] (index, x_i, W_ij) and the sum of the rest.

    y_j = b_j + sum_i x_i W[i, j] = b_j + (listed terms) + rest_j. The terms are formed for blocks of
    output units at a time (about ``block`` values), so a large layer needs no D_in x D_out temporary.
    """
    x = x.reshape(-1)
    w = np.asarray(layer.weight.data, dtype=np.float64)
    k = min(TOP_TERMS, len(x))
    step = max(1, block // len(x))
    top, rest = [], []
    for j in range(0, w.shape[1], step):
        terms = x[:, None] * w[:, j : j + step]                                     # (D_in, step)
        order = np.argsort(-np.abs(terms), axis=0, kind="stable")[:k].T            # (step, k)
        top.append(order)
        rest.append(terms.sum(axis=0) - np.take_along_axis(terms, order.T, axis=0).sum(axis=0))
    top = np.concatenate(top)
    cols = np.arange(w.shape[1])[:, None]
    return {"top_index": encode(top), "top_x": encode(x[top]), "top_w": encode(w[top, cols]),
            "rest": encode(np.concatenate(rest))}


def _elementwise(fn):
    def details(layer, x, out):
        return {"fn": fn, **({"slope": layer.slope} if hasattr(layer, "slope") else {})}
    return details


def _residual(layer, x, out):
    """The two terms of y = body(x) + shortcut(x) for the sample (the shortcut is x itself when None)."""
    body = layer.body.forward(x[None])[0]
    shortcut = x if layer.shortcut is None else layer.shortcut.forward(x[None])[0]
    return {"body": encode(body), "shortcut": encode(shortcut), "identity": layer.shortcut is None,
            "body_layers": [type(m).__name__ for m in _children(layer.body)],
            "shortcut_layers": [] if layer.shortcut is None else [type(m).__name__ for m in _children(layer.shortcut)]}


def _children(module):
    children = [m for _, m in module.named_children()]
    return children or [module]


def _softmax(layer, x, out):
    """The axis of the sample (no batch axis) that softmax normalises: ``dim`` may count from the end."""
    return {"axis": layer.dim % (x.ndim + 1) - 1}


register(nn.Conv2d, "conv", _conv)
register(nn.Conv1d, "conv", _conv)
register(nn.Linear, "affine", _affine)
register(nn.MaxPool2d, "max_pool", _window)
register(nn.MaxPool1d, "max_pool", _window)
register(nn.AvgPool2d, "avg_pool", _window)
register(nn.AvgPool1d, "avg_pool", _window)
register(nn.GlobalAvgPool2d, "global_avg_pool")
register(nn.GlobalAvgPool1d, "global_avg_pool")
register(nn.Flatten, "flatten")
register(nn.ReLU, "elementwise", _elementwise("relu"))
register(nn.LeakyReLU, "elementwise", _elementwise("leaky_relu"))
register(nn.Sigmoid, "elementwise", _elementwise("sigmoid"))
register(nn.Tanh, "elementwise", _elementwise("tanh"))
register(nn.Softmax, "softmax", _softmax)
register(nn.Dropout, "dropout", lambda layer, x, out: {"p": layer.p})
register(nn.BatchNorm1d, "batchnorm", _batchnorm)
register(nn.BatchNorm2d, "batchnorm", _batchnorm)
register(nn.Residual, "residual", _residual)
