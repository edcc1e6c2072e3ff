"""Lazy imports of the optional dependencies (scikit-learn, Pillow, PyTorch), with an error that says
what to install. The core needs only NumPy and numba; every other package is imported where it is used."""
from __future__ import annotations

import importlib

from .errors import MissingPackageError

_PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "Pillow"}
TORCH_INSTALL = ("pip install 'glassnet[torch]' (on a machine without a GPU, the CPU wheel: "
                 "pip install torch --index-url https://download.pytorch.org/whl/cpu)")
"""How to get PyTorch without pulling the multi-GB CUDA build where it is not needed."""


def require(module: str, purpose: str, install: str | None = None):
    """Import ``module`` (e.g. ``"sklearn.model_selection"``) or raise MissingPackageError saying that
    ``purpose`` needs it and how to install it (``install``, default ``pip install PACKAGE``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _PIP_NAMES.get(module.split(".")[0], module.split(".")[0])
        raise MissingPackageError(f"{purpose} needs {package}: install it with `{install or 'pip install ' + package}`") from exc
