"""A checksummed safetensors container: named arrays plus a JSON document, in one file, no pickle.

Layout: a standard safetensors file whose string metadata holds
``glassnet`` (the JSON document) and ``sha256`` (a digest of that document and of every tensor's
name, dtype, shape and bytes, in name order). Any safetensors reader can open it; :func:`read` also verifies the digest, so
a truncated or tampered file is refused with an error that names it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..backend import to_numpy
from ..errors import InputError
from .atomic import atomic_path

MAGIC_KEY = "glassnet"


class ModelFileError(InputError):
    """A model or checkpoint file is unreadable, corrupt, tampered with or of the wrong kind."""


def _digest(arrays, document_json: str) -> str:
    """SHA-256 over the JSON document and every tensor's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256(document_json.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write(path, arrays: dict, document: dict):
    """Atomically write ``arrays`` (name -> array, any backend) and the JSON-able ``document`` to ``path``."""
    from safetensors.numpy import save  # noqa: PLC0415 - keeps `import glassnet` NumPy-only

    host = {k: np.ascontiguousarray(to_numpy(v)) for k, v in arrays.items()}
    text = json.dumps(document, sort_keys=True)
    meta = {MAGIC_KEY: text, "sha256": _digest(host, text)}
    data = save(host, metadata=meta)  # serialised in memory: Python writes it, so a full disk is an OSError
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def read(path):
    """Read a file written by :func:`write`; return ``(arrays, document)`` after verifying the digest."""
    from safetensors import SafetensorError, safe_open  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    _sniff(path)
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors file (truncated or corrupt?): {exc}") from exc
    if MAGIC_KEY not in meta or "sha256" not in meta:
        raise ModelFileError(f"{path}: a safetensors file without glassnet metadata (expected keys 'glassnet' and 'sha256')")
    if _digest(arrays, meta[MAGIC_KEY]) != meta["sha256"]:
        raise ModelFileError(f"{path}: checksum mismatch - the tensors or the metadata were modified, or the file is damaged")
    try:
        document = json.loads(meta[MAGIC_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: the glassnet metadata is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: the glassnet metadata is a JSON {type(document).__name__}, expected an object")
    return arrays, document


def _sniff(path: Path):
    """Refuse, from the first bytes alone, anything that is not laid out like a safetensors file.

    A safetensors file starts with an 8-byte little-endian header length followed by a JSON object
    (``{``). Anything else is refused here, and pickles (``pickle.dump``, ``joblib``, legacy
    ``torch.save``: 0x80 and a protocol number) and zip archives (``torch.save``, ``.npz``) are named
    as such. The file is only read as bytes: nothing is ever unpickled.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(9)
    if head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if header_len > size - 8:
            raise ModelFileError(f"{path}: the safetensors header claims {header_len} bytes but the file has only "
                                 f"{size} - the file is truncated")
        return
    if head.startswith(b"PK\x03\x04"):
        what = "this is a zip archive (e.g. a torch.save or .npz file)"
    elif head[:1] == b"\x80" and head[1:2] and 2 <= head[1] <= 5:
        what = f"this is a pickle (protocol {head[1]}, e.g. written by pickle, joblib or an old torch.save)"
    elif len(head) < 9:
        raise ModelFileError(f"{path}: only {size} bytes - too short for a safetensors file (truncated?)")
    else:
        what = ("this does not start like a safetensors file (an 8-byte header length, then a JSON header); "
                "it may be a pickle or another format")
    raise ModelFileError(
        f"{path}: {what}, not a glassnet safetensors file; glassnet never unpickles files "
        "(unpickling can run arbitrary code) - re-export the model with glassnet.io.save or as safetensors"
    )
