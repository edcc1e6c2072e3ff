"""Optimizers by name, as the command line, the scikit-learn estimator and the experiments ask for them."""
from __future__ import annotations

from .adam import Adam
from .adamw import AdamW
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS = ("sgd", "nesterov", "rmsprop", "adam", "adamw")


def make_optimizer(name, params, lr, momentum=0.0, weight_decay=0.0):
    """The optimizer ``name`` (one of OPTIMIZERS) over ``params``.

    ``momentum`` applies to SGD, Nesterov SGD and RMSprop (Adam and AdamW have their betas);
    ``weight_decay`` to all (L2 added to the gradient, decoupled for AdamW).
    """
    if name in ("sgd", "nesterov"):
        return SGD(params, lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSprop(params, lr, momentum=momentum, weight_decay=weight_decay)
    if name in ("adam", "adamw"):
        return (Adam if name == "adam" else AdamW)(params, lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
