"""Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""
from __future__ import annotations

from .optimizer import Optimizer, check_bool, check_real


class SGD(Optimizer):
    r"""SGD, exactly PyTorch's ``torch.optim.SGD`` update, for each parameter ``w`` with gradient ``g``:

    .. math::

        g &\leftarrow g + \lambda w                                  && \text{(weight\_decay } \lambda) \\
        b_1 &= g, \quad b_t = \mu\, b_{t-1} + (1 - \tau)\, g         && \text{(momentum } \mu,\ \text{dampening } \tau) \\
        g &\leftarrow g + \mu\, b_t \ \text{(nesterov)} \quad\text{or}\quad g \leftarrow b_t \\
        w &\leftarrow w - \eta\, g                                    && \text{(lr } \eta)

    With ``momentum=0`` there is no buffer and the step is plain ``w -= lr * (g + wd * w)``.
    The momentum buffer is the gradient itself at the first step (no dampening), as in PyTorch.
    """

    hyper_names = ("lr", "momentum", "dampening", "nesterov", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, *, dampening=0.0, nesterov=False, weight_decay=0.0):
        # arguments after momentum are keyword-only: their positional order differs between
        # torch.optim.SGD (..., dampening, weight_decay, nesterov) and older glassnet notes
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)

    @classmethod
    def _check_hyper(cls, lr, momentum, dampening, nesterov, weight_decay) -> dict:
        hyper = {
            "lr": check_real("SGD", "learning rate", lr, low=0.0),
            "momentum": check_real("SGD", "momentum", momentum, low=0.0),
            "dampening": check_real("SGD", "dampening", dampening),
            "nesterov": check_bool("SGD", "nesterov", nesterov),
            "weight_decay": check_real("SGD", "weight_decay", weight_decay, low=0.0),
        }
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        return hyper

    @staticmethod
    def _state_names(hyper: dict) -> tuple:
        return ("momentum_buffer",) if hyper["momentum"] != 0 else ()

    def _update(self, w, g, state, xp):
        if self.weight_decay != 0:
            g = g + self.weight_decay * w
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # first step: the buffer starts at the gradient
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        w -= self.lr * g
