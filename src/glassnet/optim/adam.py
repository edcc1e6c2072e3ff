"""Adam: per-coordinate steps from bias-corrected running moments of the gradient."""
from __future__ import annotations

import math

from .optimizer import Optimizer, check_bool, check_real


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), exactly PyTorch's ``torch.optim.Adam`` update, at step ``t = 1, 2, ...``:

    .. math::

        g &\leftarrow g + \lambda w                                  && \text{(weight\_decay } \lambda\text{, L2 in the gradient)} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g                    && (m_0 = 0) \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g^2                  && (v_0 = 0) \\
        \hat m_t &= m_t / (1 - \beta_1^t), \quad \hat v_t = v_t / (1 - \beta_2^t) \\
        \hat v_t &\leftarrow \max(\hat v_{t-1}^{\max}, \hat v_t)       && \text{(amsgrad: the running maximum of } v_t) \\
        w &\leftarrow w - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    computed as PyTorch does, ``w -= (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.
    For weight decay decoupled from the gradient statistics use :class:`AdamW`.
    """

    hyper_names = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    _decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    @classmethod
    def _check_hyper(cls, lr, betas, eps, weight_decay, amsgrad) -> dict:
        name = cls.__name__
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        return {
            "lr": check_real(name, "learning rate", lr, low=0.0),
            "betas": (check_real(name, "beta1", beta1, low=0.0, high=1.0, high_open=True),
                      check_real(name, "beta2", beta2, low=0.0, high=1.0, high_open=True)),
            "eps": check_real(name, "epsilon", eps, low=0.0),
            "weight_decay": check_real(name, "weight_decay", weight_decay, low=0.0),
            "amsgrad": check_bool(name, "amsgrad", amsgrad),
        }

    @staticmethod
    def _state_names(hyper: dict) -> tuple:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if hyper["amsgrad"] else ())

    def _update(self, w, g, state, xp):
        lr, (beta1, beta2), t = self.lr, self.betas, self.step_count
        if self.weight_decay != 0:
            if self._decoupled_weight_decay:
                w *= 1 - lr * self.weight_decay
            else:
                g = g + self.weight_decay * w
        m = self._buffer(state, "exp_avg", w, xp)
        v = self._buffer(state, "exp_avg_sq", w, xp)
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        if self.amsgrad:
            v_max = self._buffer(state, "max_exp_avg_sq", w, xp)
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = lr / (1 - beta1**t)
        denom = xp.sqrt(v)
        denom /= math.sqrt(1 - beta2**t)
        denom += self.eps
        w -= step_size * (m / denom)
