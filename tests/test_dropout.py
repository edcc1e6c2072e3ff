"""Inverted dropout: scaling, eval identity, reproducible masks, E[out] = x, backward through the same mask."""
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_parity import assert_matches_torch, assert_module_matches_torch, randn, seeds

import glassnet.functional as F
from glassnet import nn

probabilities = st.sampled_from([0.1, 0.25, 0.5, 0.8])


def seeded_mask(seed, shape, p, dtype):
    """The scaled keep-mask dropout draws from numpy.random.default_rng(seed): public behaviour, replayed."""
    return F.dropout_forward(np.ones(shape, dtype=dtype), p, True, np.random.default_rng(seed))[0]


@settings(max_examples=50, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=6), p=probabilities, seed=seeds)
def test_dropout_train_matches_torch_multiplying_by_the_same_mask(shape, p, seed):
    """PyTorch cannot draw glassnet's mask, so it is handed over: forward and backward are x * mask."""

    def torch_dropout(x):
        dtype = {torch.float64: np.float64, torch.float32: np.float32}[x.dtype]
        return x * torch.tensor(seeded_mask(seed, tuple(x.shape), p, dtype))

    forward = lambda x: F.dropout_forward(x, p, True, np.random.default_rng(seed))  # noqa: E731
    assert_matches_torch(forward, F.dropout_backward, torch_dropout, randn(seed, *shape), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=6), p=probabilities, seed=seeds)
def test_dropout_eval_is_identity_like_torch(shape, p, seed):
    forward = lambda x: F.dropout_forward(x, p, False, np.random.default_rng(seed))  # noqa: E731
    assert_matches_torch(forward, F.dropout_backward, partial(torch.nn.functional.dropout, p=p, training=False), randn(seed, *shape), seed=seed)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_is_inverted_survivors_scaled_by_one_over_keep_probability(p):
    x = randn(0, 50, 40) + 5.0  # no zeros in x, so a zero in out means "dropped"
    out, _ = F.dropout_forward(x, p, True, np.random.default_rng(1))
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    assert abs(kept.mean() - (1 - p)) < 0.03


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_dropout_expected_output_equals_input(p):
    x = np.full((400, 500), 2.0)
    out, _ = F.dropout_forward(x, p, True, np.random.default_rng(0))
    # std of the mean: 2 * sqrt(p / (1 - p) / 200000) < 0.007
    assert abs(out.mean() - 2.0) < 0.03


def test_dropout_eval_returns_the_input_unchanged_and_backward_passes_dout_through():
    x = randn(0, 3, 4)
    out, cache = F.dropout_forward(x, 0.5, False, np.random.default_rng(0))
    np.testing.assert_array_equal(out, x)
    dout = randn(1, 3, 4)
    np.testing.assert_array_equal(F.dropout_backward(dout, cache), dout)


def test_dropout_mask_is_reproducible_from_a_seeded_generator():
    x = randn(0, 6, 7)
    a, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(42))
    b, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(42))
    c, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_backward_uses_the_forward_mask():
    p = 0.4
    x = randn(0, 20, 30) + 3.0
    out, cache = F.dropout_forward(x, p, True, np.random.default_rng(5))
    dout = randn(1, 20, 30)
    dx = F.dropout_backward(dout, cache)
    dropped = out == 0
    assert dropped.any() and (~dropped).any()
    np.testing.assert_array_equal(dx[dropped], 0.0)
    np.testing.assert_allclose(dx[~dropped], dout[~dropped] / (1 - p), rtol=1e-15)


def test_dropout_p_zero_is_identity_and_p_one_drops_everything_in_training():
    x = randn(0, 4, 5)
    np.testing.assert_array_equal(F.dropout_forward(x, 0.0, True, np.random.default_rng(0))[0], x)
    out, cache = F.dropout_forward(x, 1.0, True, np.random.default_rng(0))
    np.testing.assert_array_equal(out, 0.0)
    np.testing.assert_array_equal(F.dropout_backward(np.ones_like(x), cache), 0.0)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_probabilities_outside_0_1(p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        F.dropout_forward(np.ones((2, 2)), p, True, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        nn.Dropout(p)


# ------------------------------------------------------------------ module
@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 6), p=probabilities, seed=seeds)
def test_dropout_module_in_eval_mode_matches_torch_identity(n, d, p, seed):
    assert_module_matches_torch(partial(nn.Dropout, p), torch.nn.Dropout(p), randn(seed, n, d), train=False, seed=seed)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 6), seed=seeds)
def test_dropout_module_with_p_zero_in_train_mode_matches_torch(n, d, seed):
    assert_module_matches_torch(partial(nn.Dropout, 0.0), torch.nn.Dropout(0.0), randn(seed, n, d), train=True, seed=seed)


def test_dropout_module_seed_reproduces_its_masks_and_backward_uses_them():
    x = randn(0, 8, 9) + 3.0
    layer = nn.Dropout(0.5)
    layer.seed(7)
    first = layer(x)
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, first / x)
    layer.seed(7)
    np.testing.assert_array_equal(layer(x), first)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=np.random.default_rng(7))(x), first)


def test_dropout_module_eval_is_identity():
    x = randn(0, 3, 4)
    np.testing.assert_array_equal(nn.Dropout(0.9).eval()(x), x)
