"""CIFAR-10 from small generated binary batches: record layout, class names, folder layouts, size errors."""
import numpy as np
import pytest

from glassnet.data import cifar10, load_data, read_cifar_batch

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_batch(path, images, labels):
    """Records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane)."""
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    path.write_bytes(records.tobytes())


def write_cifar(folder, per_batch=20, n_test=10, meta=True, seed=0):
    """Five training batches, a test batch and batches.meta.txt; returns (train images, labels, test images, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_images = rng.integers(0, 256, (5 * per_batch, 3, 32, 32), dtype=np.uint8)
    train_labels = np.arange(5 * per_batch) % 10
    test_images = rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8)
    test_labels = np.arange(n_test) % 10
    for i in range(5):
        part = slice(i * per_batch, (i + 1) * per_batch)
        write_batch(folder / f"data_batch_{i + 1}.bin", train_images[part], train_labels[part])
    write_batch(folder / "test_batch.bin", test_images, test_labels)
    if meta:
        (folder / "batches.meta.txt").write_text("\n".join(CLASSES) + "\n\n")
    return train_images, train_labels, test_images, test_labels


def test_cifar_record_is_label_then_red_green_blue_planes_row_major(tmp_path):
    record = np.zeros(3073, dtype=np.uint8)
    record[0] = 7
    record[1 + 0 * 1024 + 2 * 32 + 5] = 11  # red, row 2, column 5
    record[1 + 1 * 1024 + 31 * 32 + 0] = 22  # green, row 31, column 0
    record[1 + 2 * 1024 + 0 * 32 + 31] = 33  # blue, row 0, column 31
    (tmp_path / "one.bin").write_bytes(record.tobytes())
    images, labels = read_cifar_batch(tmp_path / "one.bin")
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [7] and labels.dtype == np.int64
    assert images[0, 0, 2, 5] == 11 and images[0, 1, 31, 0] == 22 and images[0, 2, 0, 31] == 33
    assert images.sum() == 66


def test_cifar10_round_trip_of_images_labels_and_class_names(tmp_path):
    train_images, train_labels, test_images, test_labels = write_cifar(tmp_path)
    splits = cifar10(tmp_path, val_fraction=0.0)
    assert splits.classes == CLASSES and splits.input_shape == (3, 32, 32)
    np.testing.assert_array_equal(splits.train.y, train_labels)  # no validation part: batch 1..5 order kept
    np.testing.assert_allclose(splits.train.x, splits.normalize(train_images), rtol=1e-6)
    np.testing.assert_array_equal(splits.test.y, test_labels)
    np.testing.assert_allclose(splits.test.x, splits.normalize(test_images), rtol=1e-6)
    np.testing.assert_allclose(splits.train.x.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    assert splits.mean.shape == (3,) and splits.train.x.dtype == np.float32


def test_cifar10_accepts_the_extracted_subfolder_and_splits_validation_stratified(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-bin")
    splits = load_data("cifar10", root=tmp_path, seed=1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (90, 10, 10)
    assert sorted(splits.val.y.tolist()) == list(range(10))


def test_cifar10_limit_uses_the_first_training_records(tmp_path):
    train_images, *_ = write_cifar(tmp_path)
    splits = cifar10(tmp_path, limit=30, val_fraction=0.0)
    np.testing.assert_array_equal(splits.train.x, splits.normalize(train_images[:30]))


def test_cifar10_without_meta_file_uses_the_standard_class_names(tmp_path):
    write_cifar(tmp_path, meta=False)
    assert cifar10(tmp_path, val_fraction=0.0).classes == CLASSES


def test_cifar_file_of_wrong_size_raises_naming_file_and_record_size(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"data_batch_3.bin: size 61459 bytes .* 3073-byte"):
        cifar10(tmp_path)


def test_cifar_label_out_of_range_is_rejected(tmp_path):
    write_batch(tmp_path / "bad.bin", np.zeros((1, 3, 32, 32), dtype=np.uint8), np.array([10]))
    with pytest.raises(ValueError, match="bad.bin: labels must lie in 0..9"):
        read_cifar_batch(tmp_path / "bad.bin")


def test_missing_cifar_files_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="test_batch.bin"):
        cifar10(tmp_path)
    write_cifar(tmp_path)
    (tmp_path / "data_batch_5.bin").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5.bin"):
        cifar10(tmp_path)
