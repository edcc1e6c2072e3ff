"""Inference for deployment: ``InferencePlan(model)`` folds batch norm into the layer before it, fuses
conv + bias + ReLU + max pool, and runs the eval-mode forward pass with buffers prepared once per
input shape (see :mod:`glassnet.inference.plan` and :mod:`glassnet.inference.fold`).

>>> from glassnet.inference import InferencePlan
>>> plan = InferencePlan(model)          # doctest: +SKIP
>>> scores = plan(x)                     # doctest: +SKIP  (= model.eval(); model(x), without caches)
"""
from .plan import InferencePlan

__all__ = ["InferencePlan"]
