"""Helpers shared by the layer modules: input checks that name the layer, and the forward cache."""
from __future__ import annotations

from .module import Module


class Layer(Module):
    """A leaf module that keeps the cache of its last forward pass for backward.

    Inside :meth:`Module.no_grad` the cache is dropped as soon as it is made, so an inference pass
    holds no more than the activations it is computing.
    """

    @property
    def _cache(self):
        return self.__dict__.get("_cache_value")

    @_cache.setter
    def _cache(self, value):
        self.__dict__["_cache_value"] = value if self.grad_enabled else None

    def _expect_input(self, x, ndims, layout, channels=None):
        """Raise ValueError naming this layer unless x has one of ``ndims`` axes (and ``channels`` at axis 1)."""
        ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
        if not hasattr(x, "ndim") or x.ndim not in ndims:
            got = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(f"{self.describe()}: expected input of shape {layout}, got {got}")
        if channels is not None and x.shape[1] != channels:
            raise ValueError(
                f"{self.describe()}: expected {channels} channels/features at axis 1, i.e. input of shape "
                f"{layout}, got shape {tuple(x.shape)}"
            )
        if x.dtype.kind != "f":
            raise ValueError(f"{self.describe()}: expected a floating-point input, got dtype {x.dtype}")

    def _take_cache(self):
        cache = self._cache
        if cache is None:
            why = "inside no_grad()" if not self.grad_enabled else "before forward"
            raise RuntimeError(f"{self.describe()}: backward called {why}")
        self._cache = None
        return cache


def size_config(v):
    """A layer's size argument as JSON for its config: a pair as a list, a 1-D layer's int as it is."""
    return list(v) if isinstance(v, tuple) else v
