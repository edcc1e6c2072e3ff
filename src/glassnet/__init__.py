"""glassnet: a glass-box deep-learning library.

Every layer's forward and backward pass is written by hand in NumPy (or CuPy, through
:mod:`glassnet.backend`), readable next to its formula and checked against PyTorch.
"""
from . import allocator, backend
from .backend import get_default_dtype, set_default_dtype

allocator.keep_freed_memory()  # a training step reuses the memory the last one freed (see glassnet.allocator)

__version__ = "0.1.0"

__all__ = ["backend", "get_default_dtype", "set_default_dtype", "__version__"]
