"""Batch transforms checked against per-image loop references that consume the generator the same way."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.data import Compose, Normalize, RandomCrop, RandomHorizontalFlip


def _images(n=5, c=3, h=6, w=7, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=(n, c, h, w)).astype(dtype)


def _crop_reference(x, size, padding, rng):
    """One image at a time: zero-pad, then slice at the documented random offsets."""
    n, c, height, width = x.shape
    h, w = size
    top = rng.integers(0, height + 2 * padding - h + 1, size=n)
    left = rng.integers(0, width + 2 * padding - w + 1, size=n)
    out = np.empty((n, c, h, w), dtype=x.dtype)
    for i in range(n):
        padded = np.zeros((c, height + 2 * padding, width + 2 * padding), dtype=x.dtype)
        padded[:, padding:padding + height, padding:padding + width] = x[i]
        out[i] = padded[:, top[i]:top[i] + h, left[i]:left[i] + w]
    return out


def _flip_reference(x, p, rng):
    flip = rng.random(len(x)) < p
    return np.stack([img[:, :, ::-1] if f else img for img, f in zip(x, flip)])


def test_normalize_gives_zero_mean_unit_std_per_channel_and_keeps_dtype():
    x = _images(n=64) * np.array([1.0, 3.0, 0.5], dtype=np.float32)[:, None, None] + np.float32(2.0)
    mean, std = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))
    out = Normalize(mean, std)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-5)


def test_normalize_rejects_non_positive_std():
    with pytest.raises(ValueError, match="std"):
        Normalize([0.0], [0.0])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       padding=st.integers(0, 3), shrink=st.tuples(st.integers(0, 3), st.integers(0, 3)), seed=st.integers(0, 99))
def test_random_crop_matches_per_image_loop_reference(n, c, h, w, padding, shrink, seed):
    size = (max(1, h + 2 * padding - shrink[0]), max(1, w + 2 * padding - shrink[1]))
    x = _images(n, c, h, w, seed)
    out = RandomCrop(size, padding)(x, np.random.default_rng(seed))
    np.testing.assert_array_equal(out, _crop_reference(x, size, padding, np.random.default_rng(seed)))
    assert out.dtype == x.dtype


def test_random_crop_with_padding_shows_zero_border_and_shifted_content():
    x = np.ones((200, 1, 4, 4), dtype=np.float32)
    out = RandomCrop(4, padding=2)(x, np.random.default_rng(0))
    assert out.shape == (200, 1, 4, 4)
    zeros_per_image = (out == 0).sum(axis=(1, 2, 3))
    assert zeros_per_image.min() == 0 and zeros_per_image.max() == 12  # centred crop ... corner crop


def test_random_crop_larger_than_padded_image_is_rejected():
    with pytest.raises(ValueError, match="larger"):
        RandomCrop(9, padding=1)(_images(h=6, w=6), np.random.default_rng(0))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), p=st.sampled_from([0.0, 0.3, 0.5, 1.0]), seed=st.integers(0, 99))
def test_random_horizontal_flip_matches_per_image_loop_reference(n, p, seed):
    x = _images(n=n, seed=seed)
    out = RandomHorizontalFlip(p)(x, np.random.default_rng(seed))
    np.testing.assert_array_equal(out, _flip_reference(x, p, np.random.default_rng(seed)))


def test_horizontal_flip_with_p_one_mirrors_columns_and_p_zero_is_identity():
    x = _images()
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(x, np.random.default_rng(0)), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(x, np.random.default_rng(0)), x)


def test_random_transforms_demand_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        RandomHorizontalFlip()(_images())
    with pytest.raises(TypeError, match="Generator"):
        RandomCrop(4, 1)(_images(), None)


def test_compose_applies_in_order_drawing_from_one_generator():
    x = _images(n=8)
    composed = Compose([RandomCrop(6, 1), RandomHorizontalFlip(), Normalize([1, 1, 1], [2, 2, 2])])
    rng = np.random.default_rng(3)
    expected = (_flip_reference(_crop_reference(x, (6, 6), 1, rng), 0.5, rng) - 1) / 2
    np.testing.assert_allclose(composed(x, np.random.default_rng(3)), expected, rtol=1e-6)


def test_transforms_leave_their_input_untouched():
    x = _images()
    before = x.copy()
    Compose([RandomCrop(5, 2), RandomHorizontalFlip(1.0), Normalize([1, 2, 3], [1, 2, 3])])(x, np.random.default_rng(0))
    np.testing.assert_array_equal(x, before)
