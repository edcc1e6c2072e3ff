"""Inverted dropout layer."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .layer import Layer


class Dropout(Layer):
    """Inverted dropout (:func:`glassnet.functional.dropout_forward`): in training, zero each value
    with probability ``p`` and scale the rest by 1/(1-p); the identity in eval mode.

    Convention: ``p`` is the probability of *dropping* a value (PyTorch's), not of keeping it; the
    scaling happens at training time, so evaluation needs none.

    Args:
        p: drop probability in [0, 1] (default 0.5).
        rng: the ``numpy.random.Generator`` the masks are drawn from; :meth:`seed` replaces it so a
            run is reproducible from one seed.

    Shape:
        input (N, ...); output of the same shape.

    Example:
        >>> import numpy as np
        >>> from glassnet import nn
        >>> drop = nn.Dropout(0.5, rng=np.random.default_rng(0))
        >>> sorted(set(drop(np.ones((1, 100))).ravel().tolist()))
        [0.0, 2.0]
        >>> drop.eval()(np.ones((1, 3)))
        array([[1., 1., 1.]])
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = rng if rng is not None else np.random.default_rng()

    def seed(self, seed):
        """Draw future masks from ``numpy.random.default_rng(seed)``."""
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        self._expect_input(x, (2, 3, 4, 5), "(N, ...)")
        out, mask = F.dropout_forward(x, self.p, self.training, self.rng)
        self._cache = (mask,)  # the mask is None when nothing is dropped (eval, p = 0)
        return out

    def backward(self, dout):
        (mask,) = self._take_cache()
        return F.dropout_backward(dout, mask)

    def extra_repr(self):
        return f"p={self.p}"

    def get_config(self):
        return {"p": self.p}
