"""The sklearn digits source and the DataSplits it returns: sizes, stratification, determinism, normalisation."""
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from glassnet import backend
from glassnet.data import DataSplits, digits, stratified_split


@pytest.fixture(scope="module")
def splits():
    return digits()


def _proportions(labels):
    return np.bincount(labels, minlength=10) / len(labels)


def test_digits_split_sizes_are_80_20_then_10_percent_validation(splits):
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1293, 144, 360)
    assert splits.classes == [str(d) for d in range(10)] and splits.num_classes == 10


def test_digits_images_are_nchw_in_default_dtype_with_int64_labels(splits):
    assert splits.input_shape == (1, 8, 8)
    for part in (splits.train, splits.val, splits.test):
        assert part.x.shape[1:] == (1, 8, 8) and part.x.dtype == np.float32 and part.y.dtype == np.int64
    with backend.default_dtype(np.float64):
        assert digits().train.x.dtype == np.float64


def test_digits_splits_are_stratified(splits):
    overall = _proportions(load_digits().target)
    for part in (splits.train, splits.val, splits.test):
        np.testing.assert_allclose(_proportions(part.y), overall, atol=1.0 / len(part) + 1e-9)


def test_digits_test_part_is_sklearn_train_test_split_with_the_seed(splits):
    bunch = load_digits()
    _, raw_test, _, y_test = train_test_split(bunch.images[:, None], bunch.target, test_size=0.2,
                                              stratify=bunch.target, random_state=0)
    np.testing.assert_array_equal(splits.test.y, y_test)
    np.testing.assert_allclose(splits.test.x, splits.normalize(raw_test), rtol=1e-6)


def test_digits_are_deterministic_per_seed(splits):
    again, other = digits(seed=0), digits(seed=1)
    np.testing.assert_array_equal(again.train.x, splits.train.x)
    np.testing.assert_array_equal(again.val.y, splits.val.y)
    assert not np.array_equal(other.test.y, splits.test.y)


def test_digits_are_scaled_by_16_and_normalised_with_training_statistics(splits):
    mean = float(np.asarray(splits.mean)[0])
    std = float(np.asarray(splits.std)[0])
    raw_train = splits.train.x * std + mean  # back to [0, 1]
    assert raw_train.min() > -1e-5 and raw_train.max() < 1 + 1e-5
    np.testing.assert_allclose(splits.train.x.mean(), 0, atol=1e-5)
    np.testing.assert_allclose(splits.train.x.std(), 1, atol=1e-5)
    assert splits.pixel_scale == 16.0


def test_digits_test_part_is_normalised_with_the_training_statistics_not_its_own(splits):
    mean, std = float(np.asarray(splits.mean)[0]), float(np.asarray(splits.std)[0])
    raw_train = splits.train.x.astype(np.float64) * std + mean
    np.testing.assert_allclose([raw_train.mean(), raw_train.std()], [mean, std], rtol=1e-5)
    bunch = load_digits()
    _, raw_test = train_test_split(bunch.images[:, None] / 16.0, test_size=0.2, stratify=bunch.target, random_state=0)
    np.testing.assert_allclose(splits.test.x, (raw_test - mean) / std, rtol=1e-5, atol=1e-5)
    own = (raw_test - raw_test.mean()) / raw_test.std()
    assert np.abs(splits.test.x - own).max() > 1e-3  # the test part's own statistics give other values


def test_normalize_accepts_a_batch_one_image_or_one_grayscale_plane(splits):
    raw = load_digits().images[:3]
    batch = splits.normalize(raw[:, None])
    assert batch.shape == (3, 1, 8, 8) and batch.dtype == np.float32
    np.testing.assert_array_equal(splits.normalize(raw[0][None]), batch[:1])
    np.testing.assert_array_equal(splits.normalize(raw[0]), batch[:1])


def test_normalize_rejects_images_of_another_shape(splits):
    with pytest.raises(ValueError, match=r"\(1, 8, 8\)"):
        splits.normalize(np.zeros((2, 1, 28, 28)))


def test_limit_keeps_the_first_training_examples_before_validation_is_held_out():
    splits = digits(limit=200)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (180, 20, 360)


def test_zero_val_fraction_leaves_validation_empty():
    splits = digits(val_fraction=0.0)
    assert len(splits.val) == 0 and len(splits.train) == 1437
    assert isinstance(splits, DataSplits)


def test_stratified_split_explains_an_impossible_split():
    with pytest.raises(ValueError, match="stratified"):
        stratified_split(np.repeat(np.arange(10), 2), 0.1, seed=0)
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(np.arange(10), 1.5)
