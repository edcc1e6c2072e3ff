"""Pooling layers over (N, C, H, W) images (…2d) and (N, C, L) signals (…1d)."""
from __future__ import annotations

from .. import functional as F
from ..functional import pair, single, spatial
from .layer import Layer, size_config


class _Pool(Layer):
    """Shared by the window poolings: a window of ``kernel_size`` moved by ``stride`` (default: the window).

    A subclass names its kernels, how it reads a size (``_size``: int pair or single int) and its layout.
    """

    _forward = _backward = _size = None
    _ndim, _layout = 4, "(N, C, H, W)"

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        size, layer = type(self)._size, type(self).__name__
        self.kernel_size = size(kernel_size, f"{layer}: kernel_size", least=1)
        self.stride = size(stride, f"{layer}: stride", least=1) if stride is not None else self.kernel_size

    def forward(self, x):
        self.check_input(x)
        out, self._cache = type(self)._forward(x, self.kernel_size, self.stride)
        return out

    def check_input(self, x):
        """Raise a ValueError naming this layer unless x has the layout and at least one window."""
        self._expect_input(x, self._ndim, self._layout)
        if any(size < k for size, k in zip(x.shape[2:], spatial(self.kernel_size))):
            raise ValueError(
                f"{self.describe()}: input spatial size {tuple(x.shape[2:])} is smaller than the window {self.kernel_size}"
            )

    def backward(self, dout):
        return type(self)._backward(dout, self._take_cache())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def get_config(self):
        return {"kernel_size": size_config(self.kernel_size), "stride": size_config(self.stride)}


class _Pool2d(_Pool):
    _size = staticmethod(pair)


class _Pool1d(_Pool):
    _size = staticmethod(single)
    _ndim, _layout = 3, "(N, C, L)"


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


class MaxPool1d(_Pool1d):
    """Max over each window of a signal (:func:`glassnet.functional.max_pool1d_forward`); on ties the
    gradient goes to the first maximum, as in PyTorch.

    Args:
        kernel_size: k (an int or a 1-tuple).
        stride: the step between windows (default: the kernel size).

    Shape:
        input (N, C, L); output (N, C, Lo) with Lo = (L - k) // stride + 1 (no padding).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.MaxPool1d(2)(np.array([[[1.0, 3.0, 2.0, 0.0, 5.0]]], np.float32)).tolist()
        [[[3.0, 2.0]]]
    """

    _forward = staticmethod(F.max_pool1d_forward)
    _backward = staticmethod(F.max_pool1d_backward)


class AvgPool1d(_Pool1d):
    """Mean over each window of a signal (:func:`glassnet.functional.avg_pool1d_forward`); arguments and
    shapes as :class:`MaxPool1d`.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.AvgPool1d(2, stride=1)(np.array([[[1.0, 3.0, 2.0]]], np.float32)).tolist()
        [[[2.0, 2.5]]]
    """

    _forward = staticmethod(F.avg_pool1d_forward)
    _backward = staticmethod(F.avg_pool1d_backward)


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


class GlobalAvgPool1d(Layer):
    """Mean over all positions of each channel of a signal (:func:`glassnet.functional.global_avg_pool_forward`
    on the height-1 image (N, C, 1, L)).

    Shape:
        input (N, C, L); output (N, C).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.GlobalAvgPool1d()(np.ones((2, 5, 7), np.float32)).shape
        (2, 5)
    """

    def forward(self, x):
        self._expect_input(x, 3, "(N, C, L)")
        out, self._cache = F.global_avg_pool_forward(x[:, :, None, :])
        return out

    def backward(self, dout):
        return F.global_avg_pool_backward(dout, self._take_cache())[:, :, 0, :]


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
