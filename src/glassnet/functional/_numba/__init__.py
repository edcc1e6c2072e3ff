"""Compiled twins (numba) of the NumPy reference kernels: one file per reference file, same names.

====================  ==========================  =========================================
reference             compiled twin               kernels
====================  ==========================  =========================================
functional/conv.py    functional/_numba/conv.py   conv_forward, conv_backward (grouped, dilated;
                                                  depthwise as direct loops; 3x3 stride 1 by
                                                  Winograd, functional/_numba/winograd.py; the
                                                  forward of few channels at stride 1 by kernel
                                                  rows, functional/_numba/kernel_rows.py)
functional/pool.py    functional/_numba/pool.py   max_pool_forward, max_pool_backward;
                                                  relu_max_pool_forward, relu_max_pool_backward
                                                  (ReLU then max pooling in one pass);
                                                  global_avg_pool_forward, global_avg_pool_backward
functional/norm.py    functional/_numba/norm.py   batchnorm_forward, batchnorm_backward (N, C, L),
                                                  (N, C, H, W); batchnorm_relu_forward,
                                                  batchnorm_relu_backward (the pair in one pass)
functional/           functional/_numba/          relu_forward, relu_backward (and the
activation.py         activation.py               in-place ReLU of the inference plan)
functional/add.py     functional/_numba/add.py    add_forward, add_relu_forward (the sum, and the
                                                  sum then ReLU, of a residual block in one pass)
functional/linear.py  functional/_numba/linear.py affine_forward, affine_backward (BLAS products in parts)
(none)                functional/_numba/threads.py  glassnet's pool of threads
(none)                functional/_numba/spin.py   its threads' waits for each other, without the GIL
(none)                functional/_numba/jit.py    ``@kernel``: how every kernel is compiled, its
                                                  on-disk cache kept in step with all kernel files
====================  ==========================  =========================================

Each twin has the reference's name, signature and variable names and returns the same values
(tested against PyTorch with the same tolerances); its docstring says which reference lines it
computes and how it differs. What makes them fast (measured in BENCHMARKS.md): convolution as
tiled im2col + BLAS (tiles sized for the L2 cache, no stored columns), element-wise work in one
pass reading and writing each array once, 3x3 convolutions by Winograd's F(2x2, 3x3) (2.25x fewer
multiplications), and every kernel serial and GIL-free with the work
split between glassnet's own threads (``threads.py``). They are compiled with ``cache=True``
(on-disk cache next to the files) and ``nogil=True`` by ``jit.kernel``, which also empties the cache
of kernels that may hold code of an edited kernel file.

Dispatch, the same for every kernel:

- a reference forward, once its input checks pass, asks ``twin("conv", x, w, b)``: the twin module
  when :func:`glassnet.kernels.compiled_for` says the compiled kernels run on these arrays, else
  None; it then returns ``twin.conv_forward(...)`` with its own arguments;
- a compiled forward returns a :class:`CompiledCache` tagged with its kernel's name; the reference
  backward asks ``backward_twin("conv", cache)``, which is None for a reference cache and the
  compiled ``conv_backward`` for a compiled one (the tag is checked: a cache from another kernel
  is an error);
- a fused pair (``FUSED``: batch norm then ReLU, ReLU then max pooling) returns its parts' caches,
  and its backward asks ``fused_backward_twin("batchnorm_relu", caches)``: the fused backward if
  both are compiled.

Importing this package does not import numba; a twin module is imported the first time it runs.
"""
from __future__ import annotations

import importlib

from ... import kernels

FAMILY = {"conv": "conv", "max_pool": "pool", "relu": "activation", "batchnorm": "norm", "affine": "linear",
          "batchnorm_relu": "norm", "relu_max_pool": "pool", "global_avg_pool": "pool"}
"""The twin module (file) of each compiled kernel, by kernel name."""

FUSED = {"batchnorm_relu": ("batchnorm", "relu"), "relu_max_pool": ("relu", "max_pool")}
"""Compiled kernels that run two kernels in one, by name: their parts. Their forward returns the
parts' own caches, (first's, second's)."""


class CompiledCache(tuple):
    """The cache of a compiled forward: (kernel name, *what its backward needs)."""

    __slots__ = ()

    @property
    def kernel(self) -> str:
        return self[0]


_modules = {}


def _module(family):
    """``_numba.<family>``, imported (and compiled from the on-disk cache) on first use."""
    mod = _modules.get(family)
    if mod is None:
        mod = _modules[family] = importlib.import_module(f"{__name__}.{family}")
    return mod


def twin(family, *arrays):
    """The compiled module ``_numba.<family>`` if the compiled kernels run on ``arrays``, else None."""
    return _module(family) if kernels.compiled_for(*arrays) else None


def backward_twin(kernel, cache):
    """The compiled ``<kernel>_backward`` if ``cache`` came from the compiled forward, else None."""
    if not isinstance(cache, CompiledCache):
        return None
    if cache.kernel != kernel:
        raise ValueError(f"{kernel}_backward: got the cache of {cache.kernel}_forward")
    return getattr(_module(FAMILY[kernel]), f"{kernel}_backward")


def fused_backward_twin(kernel, caches):
    """The compiled ``<kernel>_backward`` of a fused kernel (a key of FUSED) if each part's cache in
    ``caches`` came from a compiled forward (tags checked), else None."""
    parts = FUSED[kernel]
    if not all(backward_twin(part, cache) for part, cache in zip(parts, caches, strict=True)):
        return None
    return getattr(_module(FAMILY[kernel]), f"{kernel}_backward")
