"""Write files atomically: into a temporary file beside the target, then ``os.replace`` over it.

A crash or an exception mid-write leaves the old file (or nothing) in place, never a truncated one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


TEMP_PATTERN = ".{name}.*.tmp"
"""The temporary files of :func:`atomic_path` (``name``: the target's name)."""


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in ``path``'s folder; on success it is renamed to ``path``.

    The file gets the usual permissions (0666 less the umask), whoever wrote it (some writers, such as
    safetensors, create it anew with 0600). An OSError about the temporary file is re-raised naming
    ``path``, the file the caller asked for.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        about_tmp = str(exc.filename) == tmp or (exc.filename is None and exc.errno is not None)  # write() names no file
        if not about_tmp:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_stale_temps(folder) -> list[Path]:
    """Delete the temporary files that writes killed before their rename left in ``folder``; return them.

    Only call it when no other process writes into ``folder``.
    """
    stale = sorted(Path(folder).glob(TEMP_PATTERN.format(name="*")))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text: str):
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path, data: bytes):
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
