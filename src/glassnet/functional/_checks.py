"""Shape checks shared by the kernels: one place that words the error messages."""
from __future__ import annotations


def expect_ndim(name: str, x, ndims, layout: str):
    """Raise ValueError unless ``x.ndim`` is in ``ndims``; ``layout`` describes the expected shape."""
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        raise ValueError(f"{name}: expected input of shape {layout}, got shape {tuple(x.shape)} ({x.ndim}-D)")


def expect_same_shape(name: str, a, b, what_a: str, what_b: str):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name}: {what_b} must have the shape of {what_a} {tuple(a.shape)}, got {tuple(b.shape)}"
        )


def expect_float(name: str, x):
    if x.dtype.kind != "f":
        raise ValueError(f"{name}: expected a floating-point array, got dtype {x.dtype}")
