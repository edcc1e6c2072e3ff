"""``load_data(name, ...)``: every data source by name."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .cifar import cifar10
from .digits import digits
from .folder import image_folder
from .mnist import fashion_mnist, mnist
from .npz import is_npz_path, npz_dataset
from .splits import DataSplits

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "folder")


def dataset_label(name) -> str:
    """A short name for a dataset in file names and titles: the file name without .npz for a path."""
    return Path(str(name)).stem if is_npz_path(name) else str(name)


def default_root(name: str) -> Path:
    """Where a dataset's files live when no root is given: ``$GLASSNET_DATA/<name>``
    (``~/.cache/glassnet/<name>`` if the variable is unset)."""
    return Path(os.environ.get("GLASSNET_DATA", "~/.cache/glassnet")).expanduser() / name


def load_data(name: str, root=None, seed: int = 0, val_fraction: float = 0.1, download: bool = False,
              **kw) -> DataSplits:
    """The :class:`DataSplits` of dataset ``name`` (one of :data:`DATASETS`; "fashion-mnist" also works),
    or of your own arrays when ``name`` is a path ending in ``.npz`` (see :func:`npz_dataset`).

    ``root`` is the folder of the files (default :func:`default_root`; required for "folder"; unused
    by "digits", which scikit-learn bundles). ``download=True`` fetches missing MNIST/Fashion-MNIST
    files. Other keywords go to the source: ``limit``, ``mirrors``, ``hashes``, ``size``, ``channels``,
    ``test_fraction`` (see :func:`digits`, :func:`mnist`, :func:`cifar10`, :func:`image_folder`).
    """
    if is_npz_path(name):
        if download:
            raise InputError(f"download=True is offered for mnist and fashion_mnist only, not the file {name}")
        return npz_dataset(name, seed=seed, val_fraction=val_fraction, **kw)
    key = name.lower().replace("-", "_")
    if key not in DATASETS:
        raise InputError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)} or give a path to a .npz file")
    if download and key in ("cifar10", "folder"):
        what = f"is offered for mnist and fashion_mnist only, not {key}: put the files in"
        raise InputError(f"download=True {what} root yourself", cli=f"--download {what} --data-dir yourself")
    common = {"seed": seed, "val_fraction": val_fraction, **kw}
    if key == "digits":
        return digits(**common)
    if key == "folder":
        if root is None:
            raise InputError("the 'folder' dataset needs root=<folder with one sub-folder per class>",
                             cli="the 'folder' dataset needs --data-dir <folder with one sub-folder per class>")
        return image_folder(root, **common)
    root = default_root(key) if root is None else root
    if key == "cifar10":
        return cifar10(root, **common)
    source = mnist if key == "mnist" else fashion_mnist
    return source(root, download=download, **common)
