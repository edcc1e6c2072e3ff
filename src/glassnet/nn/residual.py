"""The residual connection of ResNets (He et al. 2016): a block's output is its input plus a correction."""
from __future__ import annotations

from .module import Module


class Residual(Module):
    """``out = body(x) + shortcut(x)``, the shortcut being the identity when None.

    backward: the sum passes ``dout`` unchanged to both branches, so
    dx = body.backward(dout) + shortcut.backward(dout)   (identity shortcut: + dout).
    Children are named after the attributes (``body.0.weight``, ``shortcut.1.running_mean``, ...).
    A ResNet block puts its final ReLU after the sum: ``Sequential(Residual(body, shortcut), ReLU())``.
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
        y = self.body.forward(x)
        s = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != s.shape:
            what = "the input (identity shortcut)" if self.shortcut is None else "the shortcut"
            raise ValueError(f"{self.describe()}: the body gives shape {tuple(y.shape)} but {what} gives "
                             f"{tuple(s.shape)}; they must match to be added (use a projection shortcut)")
        return y + s

    def backward(self, dout):
        dx = self.body.backward(dout)
        return dx + (dout if self.shortcut is None else self.shortcut.backward(dout))

    def extra_repr(self):
        return "identity shortcut" if self.shortcut is None else ""
