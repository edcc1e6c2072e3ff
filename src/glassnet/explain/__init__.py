"""See inside a network: one self-contained HTML page of its forward and backward pass on one input.

``write_page(model, x, "page.html")`` draws every layer's activations, weights and gradients with
the real numbers, lets the reader click a unit to see its computation, and checks each layer's
backward numerically. :func:`read_data` reads the embedded numbers back; :mod:`.layers` says which
layer types are supported and how new ones plug in.
"""
from .arrays import decode
from .data import page_data
from .layers import register
from .page import read_data, render, write_page

__all__ = ["write_page", "page_data", "read_data", "render", "decode", "register"]
