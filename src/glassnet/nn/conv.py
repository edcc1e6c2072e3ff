"""2-D convolution layer."""
from __future__ import annotations

from .. import functional as F
from ..functional import pair
from .init import init_weight_and_bias
from .layer import Layer
from .module import Parameter


class Conv2d(Layer):
    """2-D cross-correlation with a bank of filters (:func:`glassnet.functional.conv_forward`; the
    kernel is not flipped, as in every CNN library).

    Args:
        in_channels: C_in.
        out_channels: F, the number of filters.
        kernel_size: kh = kw, or a (kh, kw) pair.
        stride, padding: ints or (vertical, horizontal) pairs; zero padding on both sides.
        bias: learn one bias per filter (default True).
        init, rng: weight initialisation and its ``numpy.random.Generator``.

    Shape:
        input (N, C_in, H, W); output (N, F, Ho, Wo) with Ho = (H + 2*padding - kh) // stride + 1
        (likewise Wo); weight (F, C_in, kh, kw) as in PyTorch, bias (F,).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> conv = nn.Conv2d(3, 8, 3, padding=1, rng=np.random.default_rng(0))
        >>> conv(np.zeros((2, 3, 32, 32), np.float32)).shape
        (2, 8, 32, 32)
    """

    can_skip_input_grad = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, init="default", rng=None):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        self.init = init
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels, kh, kw)
        w, b = init_weight_and_bias(shape, self.in_channels * kh * kw, self.out_channels * kh * kw, init, rng, bias)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x):
        self._expect_input(x, 4, f"(N, {self.in_channels}, H, W)", channels=self.in_channels)
        for axis, k, p in ((2, self.kernel_size[0], self.padding[0]), (3, self.kernel_size[1], self.padding[1])):
            if x.shape[axis] + 2 * p < k:
                raise ValueError(
                    f"{self.describe()}: input spatial size {tuple(x.shape[2:])} (padded by {self.padding}) is "
                    f"smaller than the kernel {self.kernel_size}"
                )
        b = self.bias.data if self.bias is not None else 0
        out, self._cache = F.conv_forward(x, self.weight.data, b, self.stride, self.padding)
        return out

    def backward(self, dout, need_input_grad=True):
        """dx (or None with ``need_input_grad=False``); adds dW and db to the parameters' grads."""
        dx, dw, db = F.conv_backward(dout, self._take_cache(), need_dx=need_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + ("" if self.bias is not None else ", bias=False")

    def get_config(self):
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "bias": self.bias is not None,
        }
