"""Pooling layers."""
from __future__ import annotations

from .. import functional as F
from ..functional import pair
from .layer import Layer


class _Pool2d(Layer):
    """Shared by MaxPool2d and AvgPool2d: a k x k window moved by ``stride`` (default: k)."""

    _forward = _backward = None

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size)
        self.stride = pair(stride) if stride is not None else self.kernel_size

    def forward(self, x):
        self._expect_input(x, 4, "(N, C, H, W)")
        if x.shape[2] < self.kernel_size[0] or x.shape[3] < self.kernel_size[1]:
            raise ValueError(
                f"{self.describe()}: input spatial size {tuple(x.shape[2:])} is smaller than the window {self.kernel_size}"
            )
        out, self._cache = type(self)._forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._take_cache())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def get_config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}


class MaxPool2d(_Pool2d):
    """Max over each window (:func:`glassnet.functional.max_pool_forward`).

    Convention: on ties the gradient goes to one position, the first maximum in row-major order
    (as in PyTorch); a NaN in a window gives NaN.

    Args:
        kernel_size: k, or a (kh, kw) pair.
        stride: the step between windows (default: the kernel size, non-overlapping windows).

    Shape:
        input (N, C, H, W); output (N, C, Ho, Wo) with Ho = (H - kh) // stride + 1 (no padding).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.MaxPool2d(2)(np.zeros((1, 3, 8, 8), np.float32)).shape
        (1, 3, 4, 4)
    """

    _forward = staticmethod(F.max_pool_forward)
    _backward = staticmethod(F.max_pool_backward)


class AvgPool2d(_Pool2d):
    """Mean over each window (:func:`glassnet.functional.avg_pool_forward`).

    Args:
        kernel_size: k, or a (kh, kw) pair.
        stride: the step between windows (default: the kernel size).

    Shape:
        input (N, C, H, W); output (N, C, Ho, Wo) with Ho = (H - kh) // stride + 1 (no padding).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.AvgPool2d(2)(np.ones((1, 1, 4, 4), np.float32))[0, 0]
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """

    _forward = staticmethod(F.avg_pool_forward)
    _backward = staticmethod(F.avg_pool_backward)


class GlobalAvgPool2d(Layer):
    """Mean over all positions of each channel (:func:`glassnet.functional.global_avg_pool_forward`).

    Shape:
        input (N, C, H, W); output (N, C).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.GlobalAvgPool2d()(np.ones((2, 5, 3, 3), np.float32)).shape
        (2, 5)
    """

    def forward(self, x):
        self._expect_input(x, 4, "(N, C, H, W)")
        out, self._cache = F.global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        return F.global_avg_pool_backward(dout, self._take_cache())


class Flatten(Layer):
    """Flatten all axes after the batch axis.

    Shape:
        input (N, d1, d2, ...); output (N, d1*d2*...).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.Flatten()(np.zeros((2, 3, 4, 4), np.float32)).shape
        (2, 48)
    """

    def forward(self, x):
        self._expect_input(x, (2, 3, 4, 5), "(N, ...)")
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._take_cache())
