"""The residual connection of ResNets (He et al. 2016): a block's output is its input plus a correction."""
from __future__ import annotations

from .. import functional as F
from .activation import ReLU
from .module import Module


class Residual(Module):
    """``out = body(x) + shortcut(x)``, the shortcut being the identity when None.

    backward: the sum passes ``dout`` unchanged to both branches, so
    dx = body.backward(dout) + shortcut.backward(dout)   (identity shortcut: + dout).
    Children are named after the attributes (``body.0.weight``, ``shortcut.1.running_mean``, ...).
    A ResNet block puts its final ReLU after the sum: ``Sequential(Residual(body, shortcut), ReLU())``;
    a Sequential then runs the sum and that ReLU as one pass (:meth:`fuses_with`).

    Args:
        body: the module computing the correction (e.g. conv-BN-ReLU-conv-BN).
        shortcut: a module giving body's output shape from x (e.g. a strided 1x1 conv and BN where
            the block changes the shape), or None for the identity.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> block = nn.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()))
        >>> block(np.zeros((2, 4, 8, 8), np.float32)).shape
        (2, 4, 8, 8)
        >>> list(nn.Residual(nn.Linear(3, 2), nn.Linear(3, 2, bias=False)).state_dict())
        ['body.weight', 'body.bias', 'shortcut.weight']
    """

    def __init__(self, body, shortcut=None):
        super().__init__()
        for name, m in (("body", body), ("shortcut", shortcut)):
            if m is not None and not isinstance(m, Module):
                raise TypeError(f"Residual: {name} is {type(m).__name__}, not a Module")
        if body is None:
            raise TypeError("Residual: body must be a Module, got None")
        self.body = body
        self.shortcut = shortcut
        self._rename()

    def forward(self, x):
        return F.add_forward(*self._branches(x))[0]

    def backward(self, dout):
        """Both branches get dout; the input, which feeds both, gets the sum of their gradients."""
        dx = self.body.backward(dout)
        return F.add_forward(dx, dout if self.shortcut is None else self.shortcut.backward(dout))[0]

    def fuses_with(self, layer):
        """The block's ReLU after the sum runs with it (:func:`glassnet.functional.add_relu_forward`),
        unless a subclass changed forward or backward."""
        return type(layer) is ReLU and self._runs_own_pass_of(Residual)

    def forward_fused(self, x, relu):
        """``relu.forward(self.forward(x))``: the same output, the sum and ReLU in one pass; ReLU keeps its own cache."""
        out, relu._cache = F.add_relu_forward(*self._branches(x))
        return out

    def backward_fused(self, dout, relu):
        """``self.backward(relu.backward(dout))``: ReLU's gradient is what both branches get."""
        return self.backward(relu.backward(dout))

    def _branches(self, x):
        """(body(x), shortcut(x) or x), checked to have one shape."""
        y = self.body.forward(x)
        s = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != s.shape:
            what = "the input (identity shortcut)" if self.shortcut is None else "the shortcut"
            raise ValueError(f"{self.describe()}: the body gives shape {tuple(y.shape)} but {what} gives "
                             f"{tuple(s.shape)}; they must match to be added (use a projection shortcut)")
        return y, s

    def extra_repr(self):
        return "identity shortcut" if self.shortcut is None else ""
