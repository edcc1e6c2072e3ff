"""Convolution layers: Conv2d on (N, C, H, W) images and Conv1d on (N, C, L) signals."""
from __future__ import annotations

from math import prod

from .. import functional as F
from ..functional import pair, single, spatial
from .init import init_weight_and_bias
from .layer import Layer, size_config
from .module import Parameter


class _Conv(Layer):
    """What Conv1d and Conv2d share: the arguments, the parameters, backward and the description.

    weight (out_channels, in_channels / groups, *kernel_size), bias (out_channels,). A subclass names
    its kernels, how it reads a size argument (``_size``: int pair or single int) and its input layout.
    """

    _forward = _backward = _size = None
    _layout = ""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 init="default", rng=None):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        size, layer = type(self)._size, type(self).__name__
        self.kernel_size = size(kernel_size, f"{layer}: kernel_size", least=1)
        self.stride = size(stride, f"{layer}: stride", least=1)
        self.padding = size(padding, f"{layer}: padding", least=0)
        self.dilation = size(dilation, f"{layer}: dilation", least=1)
        if self.groups < 1 or self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: groups={groups} must be a positive divisor of both in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        self.init = init
        cg, taps = self.in_channels // self.groups, prod(spatial(self.kernel_size))
        shape = (self.out_channels, cg, *spatial(self.kernel_size))
        w, b = init_weight_and_bias(shape, cg * taps, self.out_channels * taps, init, rng, bias)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x):
        self._expect_input(x, self.weight.data.ndim, self._layout.format(self.in_channels), channels=self.in_channels)
        spans = [d * (k - 1) + 1 for k, d in zip(spatial(self.kernel_size), spatial(self.dilation))]
        if any(size + 2 * p < span for size, p, span in zip(x.shape[2:], spatial(self.padding), spans)):
            kernel = f"kernel {self.kernel_size}" + (f" dilated by {self.dilation} (spans {tuple(spans)})"
                                                     if max(spatial(self.dilation)) > 1 else "")
            raise ValueError(f"{self.describe()}: input spatial size {tuple(x.shape[2:])} (padded by {self.padding}) "
                             f"is smaller than the {kernel}")
        b = self.bias.data if self.bias is not None else 0
        out, self._cache = type(self)._forward(x, self.weight.data, b, self.stride, self.padding, self.dilation,
                                               self.groups)
        return out

    can_skip_input_grad = True

    def backward(self, dout, need_input_grad=True):
        """dx (or None with ``need_input_grad=False``); adds dW and db to the parameters' grads."""
        dx, dw, db = type(self)._backward(dout, self._take_cache(), need_dx=need_input_grad,
                                          need_db=self.bias is not None)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self):
        ones, zeros = type(self)._size(1), type(self)._size(0)
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")

    def get_config(self):
        sizes = {k: size_config(getattr(self, k)) for k in ("kernel_size", "stride", "padding", "dilation")}
        return {"in_channels": self.in_channels, "out_channels": self.out_channels, **sizes, "groups": self.groups,
                "bias": self.bias is not None}


class Conv2d(_Conv):
    """2-D cross-correlation with a bank of filters (:func:`glassnet.functional.conv_forward`; the
    kernel is not flipped, as in every CNN library).

    Args:
        in_channels: C_in.
        out_channels: F, the number of filters.
        kernel_size: kh = kw, or a (kh, kw) pair.
        stride, padding: ints or (vertical, horizontal) pairs; zero padding on both sides.
        dilation: the spacing of the kernel taps (int or pair; 1: adjacent pixels).
        groups: G; channels and filters split into G groups, filter group g sees channel group g only
            (G = C_in: depthwise). G must divide C_in and F.
        bias: learn one bias per filter (default True).
        init, rng: weight initialisation and its ``numpy.random.Generator``.

    Shape:
        input (N, C_in, H, W); output (N, F, Ho, Wo) with Ho = (H + 2*padding - dilation*(kh - 1) - 1) // stride + 1
        (likewise Wo); weight (F, C_in / G, kh, kw) as in PyTorch, bias (F,).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> conv = nn.Conv2d(3, 8, 3, padding=1, rng=np.random.default_rng(0))
        >>> conv(np.zeros((2, 3, 32, 32), np.float32)).shape
        (2, 8, 32, 32)
        >>> nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8).weight.shape  # depthwise, dilated
        (8, 1, 3, 3)
    """

    _forward = staticmethod(F.conv_forward)
    _backward = staticmethod(F.conv_backward)
    _size = staticmethod(pair)
    _layout = "(N, {}, H, W)"


class Conv1d(_Conv):
    """1-D cross-correlation of signals with a bank of filters (:func:`glassnet.functional.conv1d_forward`).

    Args: as :class:`Conv2d`, with ints (or 1-tuples) for kernel_size, stride, padding and dilation.

    Shape:
        input (N, C_in, L); output (N, F, Lo) with Lo = (L + 2*padding - dilation*(k - 1) - 1) // stride + 1;
        weight (F, C_in / groups, k), bias (F,).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.Conv1d(2, 4, 5, padding=2, rng=np.random.default_rng(0))(np.zeros((3, 2, 100), np.float32)).shape
        (3, 4, 100)
    """

    _forward = staticmethod(F.conv1d_forward)
    _backward = staticmethod(F.conv1d_backward)
    _size = staticmethod(single)
    _layout = "(N, {}, L)"
