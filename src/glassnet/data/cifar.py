"""CIFAR-10 from its binary version (no pickle): records of 1 label byte + 3x32x32 pixel bytes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, MissingInputError
from .splits import DataSplits, make_splits

CIFAR10_SHAPE = (3, 32, 32)
CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32
CIFAR10_TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
"""Used when ``batches.meta.txt`` is absent."""


def read_cifar_batch(path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 ``.bin`` file -> images (N, 3, 32, 32) uint8 and labels (N,) int64.

    Each record is a label byte then 1024 red, 1024 green and 1024 blue bytes (rows of 32).
    """
    path = Path(path)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or data.size % CIFAR10_RECORD_BYTES:
        raise InputError(f"{path}: size {data.size} bytes is not a positive multiple of the "
                         f"{CIFAR10_RECORD_BYTES}-byte CIFAR-10 record (1 label + 3072 pixels)")
    records = data.reshape(-1, CIFAR10_RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= num_classes:
        raise InputError(f"{path}: labels must lie in 0..{num_classes - 1}, found {labels.max()}")
    return records[:, 1:].reshape(-1, *CIFAR10_SHAPE), labels


def _batches_dir(root: Path) -> Path:
    """``root`` itself or its ``cifar-10-batches-bin`` sub-folder, whichever holds the test batch."""
    for folder in (root, root / "cifar-10-batches-bin"):
        if (folder / CIFAR10_TEST_FILE).is_file():
            return folder
    raise MissingInputError(f"{CIFAR10_TEST_FILE} not found in {root} or {root / 'cifar-10-batches-bin'}: "
                            "extract cifar-10-binary.tar.gz (the binary version) there")


def _class_names(folder: Path) -> list[str]:
    meta = folder / "batches.meta.txt"
    if not meta.is_file():
        return list(CIFAR10_CLASSES)
    return [line.strip() for line in meta.read_text().splitlines() if line.strip()]


def cifar10(root, seed: int = 0, val_fraction: float = 0.1, limit: int | None = None) -> DataSplits:
    """CIFAR-10 as DataSplits of (N, 3, 32, 32) images from the binary batches in ``root``.

    Training data are ``data_batch_1.bin`` .. ``data_batch_5.bin`` in order; ``limit`` keeps the first
    ``limit`` of them before the stratified ``val_fraction`` is held out; ``test_batch.bin`` is the test part.
    """
    folder = _batches_dir(Path(root).expanduser())
    classes = _class_names(folder)
    missing = [name for name in CIFAR10_TRAIN_FILES if not (folder / name).is_file()]
    if missing:
        raise MissingInputError(f"missing CIFAR-10 training batches in {folder}: {', '.join(missing)}")
    train = [read_cifar_batch(folder / name, len(classes)) for name in CIFAR10_TRAIN_FILES]
    test_images, test_labels = read_cifar_batch(folder / CIFAR10_TEST_FILE, len(classes))
    return make_splits(np.concatenate([images for images, _ in train]), np.concatenate([labels for _, labels in train]),
                       test_images, test_labels, classes=classes, pixel_scale=255.0, seed=seed,
                       val_fraction=val_fraction, limit=limit, name="cifar10")
