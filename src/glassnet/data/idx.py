"""The IDX file format of MNIST and Fashion-MNIST, raw or gzip-compressed.

Layout: two zero bytes, a type code, the number of dimensions ``d``; ``d`` big-endian uint32
sizes; then the values, big-endian, C order.
"""
from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError

IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
"""IDX type code -> element dtype."""


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a complete gzip file ({exc})") from exc


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` is decompressed) into an array of its shape and native-endian dtype.

    Raises ValueError naming the file when the magic number, type code or sizes are wrong or the
    payload is not exactly the length the header announces (a truncated or padded file).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise InputError(f"{path}: expected a 4-byte IDX magic number, found a {len(data)}-byte file")
    if data[0] != 0 or data[1] != 0:
        raise InputError(f"{path}: bad IDX magic number {data[:4].hex()}: expected it to start with 0000")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise InputError(f"{path}: unknown IDX type code 0x{code:02x}: expected one of "
                         f"{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)}")
    if ndim == 0:
        raise InputError(f"{path}: IDX header declares 0 dimensions, expected at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"{path}: expected a {header}-byte header for {ndim} dimensions, found {len(data)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a huge header cannot overflow
    found = len(data) - header
    if found != expected:
        raise InputError(f"{path}: expected {expected} payload bytes for shape {shape} of {dtype.name}, "
                         f"found {found}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``); returns the path."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise InputError(f"IDX cannot store dtype {array.dtype}: use one of "
                         f"{', '.join(d.name for d in IDX_DTYPES.values())}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path
