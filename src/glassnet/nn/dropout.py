"""Inverted dropout layer."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .layer import Layer


class Dropout(Layer):
    """Zero each value with probability p in training, scaling the rest by 1/(1-p); identity in eval.

    Draws its masks from ``rng`` (a ``numpy.random.Generator``); :meth:`seed` replaces it so a run
    is reproducible from one seed.
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
        out, self._cache = F.dropout_forward(x, self.p, self.training, self.rng)
        return out

    def backward(self, dout):
        cache = self._cache
        self._cache = None
        return F.dropout_backward(dout, cache)

    def extra_repr(self):
        return f"p={self.p}"

    def get_config(self):
        return {"p": self.p}
