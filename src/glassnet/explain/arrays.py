"""Arrays in the page's JSON: exact float64 values, base64-encoded, and back.

An array is stored as ``{"shape": [d0, d1, ...], "f64": "<base64>"}`` where the base64 text holds
the values in C order as little-endian IEEE float64 (8 bytes each): exact (unlike decimal text,
which would need 17 digits per value) and about half the size. JavaScript reads it with
``new Float64Array(bytes.buffer)``, Python with :func:`decode`.
"""
from __future__ import annotations

import base64

import numpy as np

from .. import backend


def encode(a) -> dict:
    """``a`` (any array or number) as ``{"shape", "f64"}`` in float64."""
    a = np.ascontiguousarray(backend.to_numpy(a), dtype="<f8")
    return {"shape": list(a.shape), "f64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode(entry: dict) -> np.ndarray:
    """The float64 array of an ``{"shape", "f64"}`` entry written by :func:`encode`."""
    values = np.frombuffer(base64.b64decode(entry["f64"]), dtype="<f8")
    return values.reshape(entry["shape"])


def summary(a) -> dict:
    """What the page says about an array too large to embed: its shape, range and norm."""
    a = np.asarray(backend.to_numpy(a), dtype=np.float64)
    return {"shape": list(a.shape), "omitted": True, "min": float(a.min()) if a.size else 0.0,
            "max": float(a.max()) if a.size else 0.0, "norm": float(np.linalg.norm(a))}


def encode_capped(a, max_values: int) -> dict:
    """:func:`encode` when ``a`` has at most ``max_values`` values, else its :func:`summary`."""
    return encode(a) if np.size(a) <= max_values else summary(a)
