"""L1 and L2 penalties on the weights, added to the loss and to the gradients by hand.

The training loop calls, after ``model.backward(dscores)`` and before ``optimizer.step()``::

    loss = data_loss + reg.apply(model)     # adds the penalty's gradient into p.grad, returns its value

(``apply`` is ``add_grad`` followed by ``penalty``; both are also public.) By default only
*weights* are penalised, i.e. parameters with ``ndim >= 2`` (Linear and Conv weights): biases and
batch-norm ``weight``/``bias`` (1-D) are left alone, as is customary; ``include_all=True``
penalises every parameter.
"""
from __future__ import annotations

from .. import backend
from .optimizer import check_real


class Regularizer:
    """Base class: ``penalty(model) -> float`` and ``add_grad(model)`` (in place on ``p.grad``)."""

    def __init__(self, reg, include_all=False):
        self.reg = check_real(type(self).__name__, "reg", reg, low=0.0)
        self.include_all = bool(include_all)

    def targets(self, model) -> list:
        """The penalised parameters of ``model`` (a Module or an iterable of Parameters)."""
        params = model.parameters() if hasattr(model, "parameters") else list(model)
        return [p for p in params if self.include_all or p.data.ndim >= 2]

    def penalty(self, model) -> float:
        raise NotImplementedError

    def add_grad(self, model):
        raise NotImplementedError

    def apply(self, model) -> float:
        """Add the penalty's gradient into every target's ``.grad`` and return the penalty."""
        self.add_grad(model)
        return self.penalty(model)

    def __repr__(self):
        extra = ", include_all=True" if self.include_all else ""
        return f"{type(self).__name__}({self.reg!r}{extra})"


class L2(Regularizer):
    r"""Weight decay as a loss term: :math:`R = \tfrac12\,\lambda \sum_W \sum W^2`, :math:`\partial R / \partial W = \lambda W`."""

    def penalty(self, model) -> float:
        total = 0.0
        for p in self.targets(model):
            xp = backend.array_module(p.data)
            total += float(xp.sum(p.data * p.data))
        return 0.5 * self.reg * total

    def add_grad(self, model):
        for p in self.targets(model):
            p.grad += self.reg * p.data


class L1(Regularizer):
    r"""Sparsity penalty: :math:`R = \lambda \sum_W \sum |W|`, :math:`\partial R / \partial W = \lambda\, \mathrm{sign}(W)` (0 at 0)."""

    def penalty(self, model) -> float:
        total = 0.0
        for p in self.targets(model):
            xp = backend.array_module(p.data)
            total += float(xp.sum(xp.abs(p.data)))
        return self.reg * total

    def add_grad(self, model):
        for p in self.targets(model):
            xp = backend.array_module(p.data)
            p.grad += self.reg * xp.sign(p.data)


class CombinedRegularizer(Regularizer):
    """The sum of several regularizers (e.g. L1 + L2, the elastic net): penalties and gradients add."""

    def __init__(self, *parts):
        if not parts or not all(isinstance(r, Regularizer) for r in parts):
            raise ValueError("CombinedRegularizer: expected one or more Regularizer instances")
        self.parts = tuple(parts)

    def penalty(self, model) -> float:
        return sum(r.penalty(model) for r in self.parts)

    def add_grad(self, model):
        for r in self.parts:
            r.add_grad(model)

    def __repr__(self):
        return " + ".join(repr(r) for r in self.parts)


def regularizer_from(l1=0.0, l2=0.0, include_all=False):
    """``L1(l1)``, ``L2(l2)``, their sum, or None when both strengths are zero."""
    l1 = check_real("regularizer_from", "l1", l1, low=0.0)
    l2 = check_real("regularizer_from", "l2", l2, low=0.0)
    parts = [r for r, strength in ((L1(l1, include_all), l1), (L2(l2, include_all), l2)) if strength > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else CombinedRegularizer(*parts)
