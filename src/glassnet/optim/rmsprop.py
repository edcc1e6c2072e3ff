"""RMSprop: divide the gradient by a running root-mean-square of its recent magnitudes."""
from __future__ import annotations

from .optimizer import Optimizer, check_bool, check_real


class RMSprop(Optimizer):
    r"""RMSprop, exactly PyTorch's ``torch.optim.RMSprop`` update (Hinton's lecture 6e, PyTorch's eps):

    .. math::

        g &\leftarrow g + \lambda w                                        && \text{(weight\_decay } \lambda) \\
        v_t &= \alpha\, v_{t-1} + (1 - \alpha)\, g^2                       && (v_0 = 0) \\
        \bar g_t &= \alpha\, \bar g_{t-1} + (1 - \alpha)\, g,\quad
            d = \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered)} \quad\text{or}\quad d = \sqrt{v_t} + \epsilon \\
        b_t &= \mu\, b_{t-1} + g / d,\quad w \leftarrow w - \eta\, b_t \ \text{(momentum } \mu > 0) \\
        w &\leftarrow w - \eta\, g / d                                     && \text{(momentum } = 0)

    Note ``eps`` is added *outside* the square root, as in PyTorch (Keras adds it inside).
    """

    hyper_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    @classmethod
    def _check_hyper(cls, lr, alpha, eps, weight_decay, momentum, centered) -> dict:
        return {
            "lr": check_real("RMSprop", "learning rate", lr, low=0.0),
            "alpha": check_real("RMSprop", "alpha", alpha, low=0.0),
            "eps": check_real("RMSprop", "epsilon", eps, low=0.0),
            "weight_decay": check_real("RMSprop", "weight_decay", weight_decay, low=0.0),
            "momentum": check_real("RMSprop", "momentum", momentum, low=0.0),
            "centered": check_bool("RMSprop", "centered", centered),
        }

    @staticmethod
    def _state_names(hyper: dict) -> tuple:
        names = ("square_avg",)
        if hyper["momentum"] > 0:
            names += ("momentum_buffer",)
        if hyper["centered"]:
            names += ("grad_avg",)
        return names

    def _update(self, w, g, state, xp):
        if self.weight_decay != 0:
            g = g + self.weight_decay * w
        a = self.alpha
        square_avg = self._buffer(state, "square_avg", w, xp)
        square_avg *= a
        square_avg += (1 - a) * g * g
        if self.centered:
            grad_avg = self._buffer(state, "grad_avg", w, xp)
            grad_avg *= a
            grad_avg += (1 - a) * g
            denom = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denom = xp.sqrt(square_avg)
        denom += self.eps
        if self.momentum > 0:
            buf = self._buffer(state, "momentum_buffer", w, xp)
            buf *= self.momentum
            buf += g / denom
            w -= self.lr * buf
        else:
            w -= self.lr * (g / denom)
