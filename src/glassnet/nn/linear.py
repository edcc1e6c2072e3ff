"""Fully connected layer."""
from __future__ import annotations

from .. import functional as F
from .init import init_weight_and_bias
from .layer import Layer
from .module import Parameter


class Linear(Layer):
    """y = x @ W + b (:func:`glassnet.functional.affine_forward`).

    Convention: ``weight`` is stored (in_features, out_features), the transpose of PyTorch's
    (out, in), as in the functional kernel; ``glassnet.io.to_torch``/``from_torch`` transpose it.

    Args:
        in_features: D, the size of each flattened input.
        out_features: M, the size of each output.
        bias: learn an additive bias b (M,) (default True).
        init: weight initialisation ("default": PyTorch's uniform; "he", "xavier", ...).
        rng: a ``numpy.random.Generator`` for the initial weights.

    Shape:
        input (N, D) or (N, d1, d2, ...) with d1*d2*... = D (flattened first); output (N, M).

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> layer = nn.Linear(4, 3, rng=np.random.default_rng(0))
        >>> layer.weight.data.shape, layer(np.ones((2, 4), np.float32)).shape
        ((4, 3), (2, 3))
    """

    can_skip_input_grad = True

    def __init__(self, in_features, out_features, bias=True, init="default", rng=None):
        super().__init__()
        self.in_features, self.out_features, self.init = int(in_features), int(out_features), init
        w, b = init_weight_and_bias((self.in_features, self.out_features), self.in_features, self.out_features, init, rng, bias)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x):
        if not hasattr(x, "ndim") or x.ndim < 2 or x[0].size != self.in_features:
            got = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(
                f"{self.describe()}: expected input of shape (N, {self.in_features}) (or (N, ...) flattening "
                f"to {self.in_features} features), got {got}"
            )
        xp_zero = 0 if self.bias is None else self.bias.data
        out, self._cache = F.affine_forward(x, self.weight.data, xp_zero)
        return out

    def backward(self, dout, need_input_grad=True):
        """dx (or None with ``need_input_grad=False``); adds dW and db to the parameters' grads."""
        dx, dw, db = F.affine_backward(dout, self._take_cache(), need_dx=need_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def as_conv2d(self, input_shape):
        """The equivalent Conv2d whose kernel covers a whole (C, H, W) input (FC as convolution).

        conv_weight[f, c, i, j] = W[c*H*W + i*W + j, f]; on inputs of exactly ``input_shape`` the
        Conv2d's output (N, F, 1, 1) equals this layer's (N, F); on larger inputs it slides.
        """
        from .conv import Conv2d  # noqa: PLC0415

        c, h, w = input_shape
        if c * h * w != self.in_features:
            raise ValueError(f"{self.describe()}: input shape {tuple(input_shape)} has {c*h*w} values, expected {self.in_features}")
        conv = Conv2d(c, self.out_features, (h, w), bias=self.bias is not None)
        conv.weight.data[...] = self.weight.data.T.reshape(self.out_features, c, h, w)
        if self.bias is not None:
            conv.bias.data[...] = self.bias.data
        return conv

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}" + ("" if self.bias is not None else ", bias=False")

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None}
