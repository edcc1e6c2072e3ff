"""Batch normalisation layers (running statistics as buffers, gamma/beta as ``weight``/``bias``)."""
from __future__ import annotations

from .. import backend
from .. import functional as F
from .layer import Layer
from .module import Parameter


class _BatchNorm(Layer):
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
        self._expect_input(x, self._ndim, self._layout.format(self.num_features), channels=self.num_features)
        running = {"mean": self.running_mean, "var": self.running_var}
        out, self._cache = F.batchnorm_forward(
            x, self.weight.data, self.bias.data, running, self.training, self.momentum, self.eps
        )
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = F.batchnorm_backward(dout, self._take_cache())
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, D) features over the batch axis, or of (N, C, L) signals per channel over (N, L)."""

    _ndim, _layout = (2, 3), "(N, {0}) or (N, {0}, L)"


class BatchNorm2d(_BatchNorm):
    """Spatial batch norm: per channel over (N, H, W) of (N, C, H, W) maps."""

    _ndim, _layout = 4, "(N, {}, H, W)"
