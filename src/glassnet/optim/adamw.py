"""AdamW: Adam with weight decay decoupled from the adaptive gradient step."""
from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter), exactly PyTorch's ``torch.optim.AdamW`` update:

    .. math::

        w &\leftarrow w\,(1 - \eta\lambda)                            && \text{(decay first, outside the moments)} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g, \quad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g^2 \\
        w &\leftarrow w - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
            && \hat m_t = m_t / (1 - \beta_1^t),\ \hat v_t = v_t / (1 - \beta_2^t)

    (``amsgrad`` as in :class:`Adam`). Unlike Adam's ``weight_decay``, the decay never enters
    ``g``, so it is not rescaled by ``1/sqrt(v)``; default ``weight_decay=0.01`` as in PyTorch.
    """

    _decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
