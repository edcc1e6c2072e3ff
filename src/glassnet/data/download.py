"""Download a file from a list of mirrors, verified by SHA-256, written atomically into a cache folder."""
from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
import warnings
from pathlib import Path

_CHUNK = 1 << 20


class DownloadError(OSError):
    """No mirror delivered the file with the expected SHA-256."""


def _fetch(url: str, dest: Path, sha256: str, timeout: float) -> None:
    """Stream ``url`` into a temporary file next to ``dest``; rename it to ``dest`` only if its hash matches."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    try:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "xb") as out:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256.lower():
            raise ValueError(f"{dest.name}: SHA-256 mismatch, expected {sha256.lower()}, found {digest.hexdigest()}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(filename: str, root, mirrors, sha256: str, timeout: float = 60.0) -> Path:
    """Fetch ``filename`` into folder ``root`` from the first of ``mirrors`` (base URLs) that serves it
    with the expected ``sha256``; returns its path.

    A failing mirror (network error, HTTP error, wrong hash) is skipped for the next one; the failures
    are reported in a RuntimeWarning when a later mirror works, in a DownloadError when none does.
    Nothing is left at the destination unless it was verified.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    dest = root / filename
    failures = []
    for base in mirrors:
        url = f"{base.rstrip('/')}/{filename}"
        try:
            _fetch(url, dest, sha256, timeout)
        except (OSError, ValueError) as exc:
            failures.append(f"{url}: {exc}")
            continue
        if failures:
            warnings.warn(f"downloaded {filename} from {url} after failures: " + "; ".join(failures),
                          RuntimeWarning, stacklevel=2)
        return dest
    raise DownloadError(f"could not download {filename} into {root}: "
                        + ("; ".join(failures) if failures else "no mirror given"))
