"""The IDX reader/writer and the MNIST / Fashion-MNIST sources reading IDX files from a folder."""
import gzip

import numpy as np
import pytest

from glassnet.data import fashion_mnist, mnist, read_idx, write_idx

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_mnist_files(folder, n_train=40, n_test=10, gz=True, seed=0):
    """Four small MNIST-format files (labels cycle through 0..9); returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8), np.arange(n_train, dtype=np.uint8) % 10,
              rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8), np.arange(n_test, dtype=np.uint8) % 10]
    for name, array in zip(NAMES, arrays):
        write_idx(folder / (name + (".gz" if gz else "")), array)
    return arrays


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([-3, 0, 7], dtype=np.int8),
    np.arange(-6, 6, dtype=np.int16).reshape(3, 4),
    np.arange(10, dtype=np.int32) * 100_000,
    np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
    np.linspace(-1, 1, 4, dtype=np.float64),
], ids=["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip_keeps_values_shape_and_dtype(tmp_path, array, suffix):
    back = read_idx(write_idx(tmp_path / f"a.idx{suffix}", array))
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype and back.dtype.isnative


def test_idx_header_is_big_endian_as_in_the_standard_files(tmp_path):
    data = write_idx(tmp_path / "labels", np.array([1, 2, 3], dtype=np.uint8)).read_bytes()
    assert data == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2, 3])


def test_truncated_idx_file_raises_naming_file_and_expected_length(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((2, 3, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"images: expected 18 payload bytes .* found 13"):
        read_idx(path)


def test_idx_file_with_trailing_bytes_is_rejected(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(4, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="expected 4 payload bytes .* found 5"):
        read_idx(path)


def test_truncated_gzip_idx_file_raises_naming_file(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.arange(1000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="images.gz"):
        read_idx(path)


def test_bad_magic_number_raises(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="bad.*magic"):
        read_idx(path)


def test_unknown_type_code_raises(tmp_path):
    path = tmp_path / "odd"
    path.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="odd: unknown IDX type code 0x07"):
        read_idx(path)


@pytest.mark.parametrize("data, message", [(b"\0\0", "4-byte"), (bytes([0, 0, 8, 0]), "0 dimensions"),
                                           (bytes([0, 0, 8, 3, 0, 0, 0, 1]), "16-byte header")])
def test_short_or_dimensionless_header_raises(tmp_path, data, message):
    path = tmp_path / "short"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_gzipped_file_that_is_not_gzip_raises_naming_file(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="x.gz"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_raw_or_gzipped_idx_files_from_a_folder(tmp_path, gz):
    train_images, train_labels, test_images, test_labels = write_mnist_files(tmp_path, gz=gz)
    splits = mnist(tmp_path, val_fraction=0.25)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 10, 10)
    assert splits.input_shape == (1, 28, 28) and splits.classes == [str(d) for d in range(10)]
    np.testing.assert_array_equal(splits.test.y, test_labels)
    np.testing.assert_allclose(splits.test.x, splits.normalize(test_images[:, None]), rtol=1e-6)
    assert splits.test.x.dtype == np.float32 and splits.pixel_scale == 255.0


def test_mnist_limit_keeps_the_first_training_examples(tmp_path):
    train_images, *_ = write_mnist_files(tmp_path)
    splits = mnist(tmp_path, limit=20, val_fraction=0.5)
    assert len(splits.train) + len(splits.val) == 20
    used = np.concatenate([splits.train.x, splits.val.x])
    expected = splits.normalize(train_images[:20, None])
    assert sorted(map(bytes, used)) == sorted(map(bytes, expected))


def test_fashion_mnist_names_its_classes(tmp_path):
    write_mnist_files(tmp_path)
    splits = fashion_mnist(tmp_path, val_fraction=0.25)
    assert splits.classes[0] == "T-shirt/top" and splits.classes[9] == "Ankle boot"


def test_missing_mnist_file_without_download_says_how_to_get_it(tmp_path):
    write_mnist_files(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.*download=True"):
        mnist(tmp_path)


def test_mnist_images_and_labels_of_different_counts_are_rejected(tmp_path):
    write_mnist_files(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(ValueError, match="10 images but .* 9 labels"):
        mnist(tmp_path)


def test_mnist_label_out_of_range_is_rejected(tmp_path):
    write_mnist_files(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(10, 12, dtype=np.uint8))
    with pytest.raises(ValueError, match="t10k-labels.*0..9, found 12"):
        mnist(tmp_path)


def test_mnist_corrupt_gzip_member_raises_value_error_naming_file(tmp_path):
    write_mnist_files(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: expected 31360 payload bytes"):
        mnist(tmp_path)
