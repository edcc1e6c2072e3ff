"""Lazy imports of the optional helpers (scikit-learn, Pillow), with an error that says what to install."""
from __future__ import annotations

import importlib

from ..errors import MissingPackageError

_PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "Pillow"}


def require(module: str, purpose: str):
    """Import ``module`` (e.g. ``"sklearn.model_selection"``) or raise ImportError naming the package."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _PIP_NAMES.get(module.split(".")[0], module)
        raise MissingPackageError(f"{purpose} needs {package}: install it with `pip install {package}`") from exc
