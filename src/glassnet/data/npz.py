"""Your own arrays as a dataset: one ``.npz`` file with ``x_train, y_train, x_test, y_test``.

Inputs are images (N, C, H, W) or signals (N, C, L), of any real dtype (uint8 pixels are divided by
255, other values are taken as they are); labels are whole numbers 0 .. K-1 (K classes, K >= 2). An
optional ``classes`` array names the classes. Everything is checked before training starts, and a
problem is reported with the file, the array and what was expected.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .splits import DataSplits, make_splits

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def is_npz_path(name) -> bool:
    """True when a dataset name is a path to a ``.npz`` file (by its suffix)."""
    return str(name).lower().endswith(".npz")


def _open(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .npz file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a readable .npz file (not a zip archive; write it with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in NPZ_KEYS if k not in archive.files]
            if missing:
                raise InputError(f"{path}: missing array(s) {', '.join(missing)}; a dataset .npz holds "
                                 f"{', '.join(NPZ_KEYS)} (found: {', '.join(archive.files) or 'nothing'})")
            return {k: archive[k] for k in archive.files if k in (*NPZ_KEYS, "classes")}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from exc
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(f"{path}: holds Python objects (pickled arrays), which are not loaded; "
                             "save plain numeric arrays") from exc
        raise


def _check_inputs(path, arrays):
    shapes = {}
    for part in ("train", "test"):
        x = arrays[f"x_{part}"]
        if x.dtype.kind not in "uif":
            raise InputError(f"{path}: x_{part} must hold real numbers, got dtype {x.dtype}")
        if x.ndim not in (3, 4):
            raise InputError(f"{path}: x_{part} must be images (N, C, H, W) or signals (N, C, L), got shape {x.shape}")
        if len(x) == 0:
            raise InputError(f"{path}: x_{part} holds no examples (shape {x.shape})")
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x)
            if bad.any():
                first = np.argwhere(bad)[0]
                raise InputError(f"{path}: x_{part} has {int(bad.sum())} NaN or infinite value(s), the first at "
                                 f"index {tuple(int(i) for i in first)}")
        shapes[part] = x.shape[1:]
    if shapes["train"] != shapes["test"]:
        raise InputError(f"{path}: training and test examples differ in shape: x_train {arrays['x_train'].shape}, "
                         f"x_test {arrays['x_test'].shape} (all but the first axis must match)")
    dtypes = {arrays["x_train"].dtype, arrays["x_test"].dtype}
    if len(dtypes) > 1 and np.dtype(np.uint8) in dtypes:
        raise InputError(f"{path}: x_train is {arrays['x_train'].dtype} but x_test is {arrays['x_test'].dtype}: "
                         "uint8 pixels are divided by 255, so give both the same dtype")


def _labels(path, arrays, part):
    """y_<part> as int64 after checking its shape, dtype, length and values."""
    y, n = arrays[f"y_{part}"], len(arrays[f"x_{part}"])
    if y.ndim != 1:
        raise InputError(f"{path}: y_{part} must be a vector of class labels (N,), got shape {y.shape}")
    if len(y) != n:
        raise InputError(f"{path}: y_{part} has {len(y)} labels but x_{part} has {n} examples")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise InputError(f"{path}: y_{part} must hold whole-number class labels, got non-integer values "
                             f"(dtype {y.dtype})")
    elif y.dtype.kind not in "ui":
        raise InputError(f"{path}: y_{part} must hold integer class labels 0..K-1, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise InputError(f"{path}: y_{part} has negative label {int(y.min())}; labels must be 0..K-1")
    return y


def npz_dataset(path, seed: int = 0, val_fraction: float = 0.1, limit: int | None = None) -> DataSplits:
    """The :class:`DataSplits` of the arrays in ``path`` (see the module docstring).

    The classes are 0 .. K-1 with K = 1 + the largest training label (named by ``classes`` if given);
    a test label outside that range is refused. Normalised per channel with the training part's
    statistics, like every dataset.
    """
    path = Path(path).expanduser()
    arrays = _open(path)
    _check_inputs(path, arrays)
    y_train, y_test = _labels(path, arrays, "train"), _labels(path, arrays, "test")
    k = int(y_train.max()) + 1
    if k < 2:
        raise InputError(f"{path}: y_train holds a single class (label 0); a classifier needs at least two")
    if k > len(y_train):
        raise InputError(f"{path}: y_train's largest label is {k - 1} but it has only {len(y_train)} examples; "
                         f"labels must be 0..K-1 with a training example for every class")
    missing = np.setdiff1d(np.arange(k), y_train)
    if len(missing):
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise InputError(f"{path}: y_train has no example of label(s) {shown}; labels must be 0..{k - 1} "
                         f"(K = 1 + the largest label) with a training example for every class")
    if y_test.max() >= k:
        raise InputError(f"{path}: y_test has label {int(y_test.max())}, but the training labels only go up to "
                         f"{k - 1} (classes 0..{k - 1})")
    classes = [str(c) for c in range(k)]
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or len(names) != k:
            raise InputError(f"{path}: 'classes' must name the {k} classes 0..{k - 1} (a vector of {k} names), "
                             f"got shape {names.shape}")
        classes = [str(c) for c in names]
    x_train = arrays["x_train"]
    pixel_scale = 255.0 if x_train.dtype == np.uint8 else 1.0
    return make_splits(x_train, y_train, arrays["x_test"], y_test, classes=classes, pixel_scale=pixel_scale,
                       seed=seed, val_fraction=val_fraction, limit=limit, name=path.name)
