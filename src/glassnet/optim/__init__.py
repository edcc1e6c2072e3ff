"""Optimizers, learning-rate schedules and L1/L2 regularizers.

Optimizers update ``Parameter.data`` in place from ``Parameter.grad`` with exactly PyTorch's
update rules; schedules set ``optimizer.lr`` once per epoch; regularizers add a weight penalty to
the loss and its gradient to ``p.grad``.
"""
from .adam import Adam
from .adamw import AdamW
from .by_name import OPTIMIZERS, make_optimizer
from .lr_scheduler import CosineLR, LRScheduler, StepLR
from .optimizer import Optimizer
from .regularizers import L1, L2, CombinedRegularizer, Regularizer, regularizer_from
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adam", "AdamW",
    "LRScheduler", "StepLR", "CosineLR",
    "Regularizer", "L1", "L2", "CombinedRegularizer", "regularizer_from",
    "OPTIMIZERS", "make_optimizer",
]
