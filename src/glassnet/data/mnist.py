"""MNIST and Fashion-MNIST from their four IDX files, optionally downloaded and verified."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, MissingInputError
from .download import download as download_file
from .idx import read_idx
from .splits import DataSplits, make_splits

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""The standard file names (each may also be stored as ``NAME.gz``)."""

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_CLASSES = [str(d) for d in range(10)]

FASHION_MNIST_MIRRORS = (
    "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _locate(root: Path, name: str, download: bool, mirrors, hashes) -> Path:
    """``root/name`` or ``root/name.gz`` if present; else download ``name.gz`` when allowed."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    if not download:
        missing = f"{name} (or {name}.gz) not found in {root}: put the IDX files there"
        raise MissingInputError(f"{missing} or pass download=True", cli=f"{missing} or add --download")
    gz = f"{name}.gz"
    if gz not in hashes:
        raise InputError(f"no SHA-256 known for {gz}: pass hashes={{'{gz}': '<sha256>', ...}}")
    return download_file(gz, root, mirrors, hashes[gz])


def _read_pair(images_path: Path, labels_path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) uint8 and labels (N,) int64 of one IDX pair, checked against each other."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise InputError(f"{images_path}: expected uint8 images of shape (N, H, W), "
                         f"found {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise InputError(f"{labels_path}: expected uint8 labels of shape (N,), found {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise InputError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() >= num_classes:
        raise InputError(f"{labels_path}: labels must lie in 0..{num_classes - 1}, found {labels.max()}")
    return images[:, None], labels.astype(np.int64)


def idx_dataset(root, *, classes, mirrors, hashes, download: bool = False, seed: int = 0,
                val_fraction: float = 0.1, limit: int | None = None, name: str = "") -> DataSplits:
    """DataSplits from the four MNIST-style IDX files in ``root`` (downloaded from ``mirrors`` if
    missing and ``download=True``, each checked against ``hashes[filename]``)."""
    root = Path(root).expanduser()
    paths = {key: _locate(root, fname, download, mirrors, hashes) for key, fname in IDX_FILES.items()}
    train_images, train_labels = _read_pair(paths["train_images"], paths["train_labels"], len(classes))
    test_images, test_labels = _read_pair(paths["test_images"], paths["test_labels"], len(classes))
    return make_splits(train_images, train_labels, test_images, test_labels, classes=classes, pixel_scale=255.0,
                       seed=seed, val_fraction=val_fraction, limit=limit, name=name)


def mnist(root, download: bool = False, mirrors=MNIST_MIRRORS, hashes=None, seed: int = 0,
          val_fraction: float = 0.1, limit: int | None = None) -> DataSplits:
    """MNIST handwritten digits as DataSplits of (N, 1, 28, 28) images from the IDX files in ``root``.

    ``hashes`` maps file names to SHA-256 (default :data:`MNIST_SHA256`); ``limit`` keeps the first
    ``limit`` training examples before the stratified ``val_fraction`` is held out.
    """
    return idx_dataset(root, classes=MNIST_CLASSES, mirrors=mirrors, hashes=MNIST_SHA256 if hashes is None else hashes,
                       download=download, seed=seed, val_fraction=val_fraction, limit=limit, name="mnist")


def fashion_mnist(root, download: bool = False, mirrors=FASHION_MNIST_MIRRORS, hashes=None, seed: int = 0,
                  val_fraction: float = 0.1, limit: int | None = None) -> DataSplits:
    """Fashion-MNIST (Zalando) as DataSplits of (N, 1, 28, 28) images; same files and options as :func:`mnist`."""
    return idx_dataset(root, classes=FASHION_MNIST_CLASSES, mirrors=mirrors,
                       hashes=FASHION_MNIST_SHA256 if hashes is None else hashes, download=download,
                       seed=seed, val_fraction=val_fraction, limit=limit, name="fashion_mnist")
