"""Activation layers: thin modules over the element-wise kernels of glassnet.functional.activation."""
from __future__ import annotations

from .. import functional as F
from .layer import Layer
from .pool import MaxPool1d, MaxPool2d


class _Activation(Layer):
    """forward = ``_forward(x, *args)``, backward = ``_backward(dout, cache)``; no parameters."""

    _forward = _backward = None

    def _args(self):
        return ()

    def forward(self, x):
        self._expect_input(x, (1, 2, 3, 4, 5), "(N, ...)")
        out, self._cache = type(self)._forward(x, *self._args())
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._take_cache())


class ReLU(_Activation):
    """Element-wise max(x, 0) (:func:`glassnet.functional.relu_forward`).

    Shape:
        input (N, ...); output of the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.ReLU()(np.array([[-1.0, 2.0]]))
        array([[0., 2.]])
    """

    _forward, _backward = staticmethod(F.relu_forward), staticmethod(F.relu_backward)

    def fuses_with(self, layer):
        """ReLU followed by a max pool runs as one pair (:func:`glassnet.functional.relu_max_pool_forward`,
        ``relu_max_pool1d_forward``), both exactly these classes (a subclass may have changed what either computes)."""
        return type(self) is ReLU and type(layer) in (MaxPool2d, MaxPool1d)

    def forward_fused(self, x, pool):
        """``pool.forward(self.forward(x))``: the same output, and each layer keeps its own cache."""
        self._expect_input(x, (1, 2, 3, 4, 5), "(N, ...)")
        pool.check_input(x)
        forward = F.relu_max_pool_forward if type(pool) is MaxPool2d else F.relu_max_pool1d_forward
        out, (self._cache, pool._cache) = forward(x, pool.kernel_size, pool.stride)
        return out

    def backward_fused(self, dout, pool):
        """``self.backward(pool.backward(dout))`` without storing the pool's gradient."""
        backward = F.relu_max_pool_backward if type(pool) is MaxPool2d else F.relu_max_pool1d_backward
        return backward(dout, (self._take_cache(), pool._take_cache()))


class Sigmoid(_Activation):
    """Element-wise 1 / (1 + exp(-x)), computed without overflow (:func:`glassnet.functional.sigmoid_forward`).

    Shape:
        input (N, ...); output of the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.Sigmoid()(np.array([[0.0]]))
        array([[0.5]])
    """

    _forward, _backward = staticmethod(F.sigmoid_forward), staticmethod(F.sigmoid_backward)


class Tanh(_Activation):
    """Element-wise tanh(x) (:func:`glassnet.functional.tanh_forward`).

    Shape:
        input (N, ...); output of the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.Tanh()(np.array([[0.0]]))
        array([[0.]])
    """

    _forward, _backward = staticmethod(F.tanh_forward), staticmethod(F.tanh_backward)


class LeakyReLU(_Activation):
    """Element-wise x if x > 0 else slope * x (:func:`glassnet.functional.leaky_relu_forward`).

    Args:
        slope: the slope for x <= 0 (PyTorch's ``negative_slope``; default 0.01).

    Shape:
        input (N, ...); output of the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.LeakyReLU(0.1)(np.array([[-2.0, 3.0]]))
        array([[-0.2,  3. ]])
    """

    _forward, _backward = staticmethod(F.leaky_relu_forward), staticmethod(F.leaky_relu_backward)

    def __init__(self, slope=0.01):
        super().__init__()
        self.slope = float(slope)

    def _args(self):
        return (self.slope,)

    def extra_repr(self):
        return f"slope={self.slope}"

    def get_config(self):
        return {"slope": self.slope}


class Softmax(_Activation):
    """exp(x_i - max x) / sum_j exp(x_j - max x) along ``dim`` (:func:`glassnet.functional.softmax_forward`).

    Args:
        dim: the axis that sums to one (default 1, the class axis of (N, C) scores).

    Shape:
        input (N, ...); output of the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> nn.Softmax()(np.zeros((1, 4)))
        array([[0.25, 0.25, 0.25, 0.25]])
    """

    _forward, _backward = staticmethod(F.softmax_forward), staticmethod(F.softmax_backward)

    def __init__(self, dim=1):
        super().__init__()
        self.dim = int(dim)

    def _args(self):
        return (self.dim,)

    def extra_repr(self):
        return f"dim={self.dim}"

    def get_config(self):
        return {"dim": self.dim}
