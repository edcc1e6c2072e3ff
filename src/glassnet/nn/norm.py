"""Batch normalisation layers (running statistics as buffers, gamma/beta as ``weight``/``bias``)."""
from __future__ import annotations

from .. import backend
from .. import functional as F
from .activation import ReLU
from .layer import Layer
from .module import Parameter


class _BatchNorm(Layer):
    """Batch normalisation (:func:`glassnet.functional.batchnorm_forward`) with learnt ``weight``
    (gamma) and ``bias`` (beta) and the buffers ``running_mean`` / ``running_var``.

    Conventions (PyTorch's): ``momentum=0.1`` means running = 0.9 * running + 0.1 * batch (it
    weighs the new value, not the old one as in cs231n); the running variance is updated with the
    unbiased batch variance (times m / (m - 1)), while the normalisation uses the biased one.
    Eval mode normalises with the running statistics.

    Args:
        num_features: D (features) or C (channels).
        eps: added to the variance before the square root (default 1e-5).
        momentum: weight of the batch statistics in the running update (default 0.1).
    """

    _ndim = _layout = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        xp = backend.get_xp()
        dtype = backend.get_default_dtype()
        self.weight = Parameter(xp.ones(self.num_features, dtype=dtype))
        self.bias = Parameter(xp.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_mean", xp.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", xp.ones(self.num_features, dtype=dtype))

    def forward(self, x):
        out, self._cache = self._normalise(F.batchnorm_forward, x)
        return out

    def backward(self, dout):
        return self._add_grads(*F.batchnorm_backward(dout, self._take_cache()))

    def fuses_with(self, layer):
        """Batch norm followed by a ReLU runs as one pair (:func:`glassnet.functional.batchnorm_relu_forward`),
        unless a subclass changed forward or backward (synchronised batch norm does)."""
        return type(layer) is ReLU and self._runs_own_pass_of(_BatchNorm)

    def forward_fused(self, x, relu):
        """``relu.forward(self.forward(x))``: the same output, and each layer keeps its own cache."""
        out, (self._cache, relu._cache) = self._normalise(F.batchnorm_relu_forward, x)
        return out

    def backward_fused(self, dout, relu):
        """``self.backward(relu.backward(dout))`` without storing ReLU's gradient."""
        return self._add_grads(*F.batchnorm_relu_backward(dout, (self._take_cache(), relu._take_cache())))

    def _normalise(self, kernel, x):
        """kernel(x, gamma, beta, running, train, momentum, eps) -> (out, cache) after the input check."""
        self._expect_input(x, self._ndim, self._layout.format(self.num_features), channels=self.num_features)
        running = {"mean": self.running_mean, "var": self.running_var}
        return kernel(x, self.weight.data, self.bias.data, running, self.training, self.momentum, self.eps)

    def _add_grads(self, dx, dgamma, dbeta):
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, D) features, per feature over the batch axis, or of (N, C, L) signals, per channel
    over (N, L) (see the conventions above).

    Shape:
        input (N, D) or (N, C, L); output the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> bn = nn.BatchNorm1d(2)
        >>> bn(np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)).round(3).tolist()
        [[-1.0, -1.0], [1.0, 1.0]]
        >>> [round(float(v), 3) for v in bn.running_var]  # 0.9 * 1 + 0.1 * (unbiased variances 2 and 8)
        [1.1, 1.7]
    """

    _ndim, _layout = (2, 3), "(N, {0}) or (N, {0}, L)"


class BatchNorm2d(_BatchNorm):
    """Spatial batch norm of (N, C, H, W) maps, per channel over (N, H, W) (see the conventions above).

    Shape:
        input (N, C, H, W); output (N, C, H, W).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> bn = nn.BatchNorm2d(3)
        >>> out = bn(np.random.default_rng(0).normal(5.0, 2.0, (8, 3, 4, 4)).astype(np.float32))
        >>> out.shape, bool(abs(out.mean()) < 1e-6)
        ((8, 3, 4, 4), True)
    """

    _ndim, _layout = 4, "(N, {}, H, W)"
