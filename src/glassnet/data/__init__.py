"""Data: datasets, the reproducible DataLoader, batch transforms and the dataset sources.

Every source returns :class:`DataSplits` (train/val/test normalised with the training statistics);
:func:`load_data` picks one by name. Only NumPy is needed to import this package; scikit-learn and
Pillow are imported by the functions that use them.
"""
from .cifar import cifar10, read_cifar_batch
from .dataset import ArrayDataset, Dataset
from .digits import digits
from .download import DownloadError, download
from .folder import image_folder, load_image
from .idx import read_idx, write_idx
from .loader import DataLoader
from .mnist import fashion_mnist, mnist
from .npz import npz_dataset
from .registry import DATASETS, dataset_label, default_root, load_data
from .sampler import BatchSampler, batch_rng, epoch_indices
from .splits import DataSplits, channel_stats, make_splits, stratified_split
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip

__all__ = [
    "Dataset", "ArrayDataset", "DataLoader", "BatchSampler", "epoch_indices", "batch_rng",
    "Normalize", "RandomCrop", "RandomHorizontalFlip", "Compose",
    "DataSplits", "make_splits", "stratified_split", "channel_stats",
    "digits", "mnist", "fashion_mnist", "cifar10", "image_folder", "load_image",
    "read_idx", "write_idx", "read_cifar_batch", "download", "DownloadError",
    "load_data", "DATASETS", "default_root", "dataset_label", "npz_dataset",
]
