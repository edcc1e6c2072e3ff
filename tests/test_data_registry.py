"""load_data: choosing a source by name, defaults, clear errors; importing glassnet.data needs only NumPy."""
import subprocess
import sys

import numpy as np
import pytest

from glassnet.data import DATASETS, default_root, digits, load_data, load_image, write_idx


def test_unknown_dataset_name_lists_every_known_name():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'") as info:
        load_data("imagenet")
    for name in ("digits", "mnist", "fashion_mnist", "cifar10", "folder"):
        assert name in str(info.value)
    assert set(DATASETS) == {"digits", "mnist", "fashion_mnist", "cifar10", "folder"}


def test_load_data_digits_passes_seed_and_val_fraction():
    a, b = load_data("digits", seed=2, val_fraction=0.2), digits(seed=2, val_fraction=0.2)
    np.testing.assert_array_equal(a.val.y, b.val.y)
    assert a.name == "digits" and len(a.val) == len(b.val)


def test_load_data_accepts_the_hyphenated_fashion_mnist_name(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)
    splits = load_data("Fashion-MNIST", root=tmp_path, val_fraction=0.5)
    assert splits.name == "fashion_mnist" and len(splits.val) == 10


def test_download_is_refused_for_sources_without_one(tmp_path):
    with pytest.raises(ValueError, match="download=True is offered for mnist and fashion_mnist only"):
        load_data("cifar10", root=tmp_path, download=True)


def test_default_root_follows_the_glassnet_data_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path))
    assert default_root("mnist") == tmp_path / "mnist"
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mnist")):
        load_data("mnist")


def test_missing_optional_dependency_names_the_package_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL.Image", None)  # makes `import PIL.Image` fail
    with pytest.raises(ImportError, match="pip install Pillow"):
        load_image(tmp_path / "any.png")
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        digits()


def test_importing_glassnet_data_loads_neither_sklearn_nor_pillow():
    code = ("import sys, glassnet.data; "
            "print(sorted(m for m in ('sklearn', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
