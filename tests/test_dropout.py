"""Inverted dropout: scaling, eval identity, reproducible masks, E[out] = x, backward through the same mask."""
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from tests.torch_parity import assert_matches_torch, assert_module_matches_torch, randn, seeds

import glassnet.functional as F
from glassnet import nn

probabilities = st.sampled_from([0.1, 0.25, 0.5, 0.8])


def torch_survivor_scale(p, dtype):
    """The factor PyTorch's own dropout multiplies kept values by (measured, not assumed)."""
    out = torch.nn.functional.dropout(torch.ones(10_000, dtype=dtype), p=p, training=True)
    kept = out[out != 0].unique()
    assert kept.numel() == 1
    return float(kept[0])


@settings(max_examples=50, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=6), p=probabilities, seed=seeds)
def test_dropout_train_output_and_gradient_follow_torchs_dropout_on_the_kept_positions(shape, p, seed):
    """PyTorch cannot draw glassnet's mask. Its dropout is x * keep * s with s measured from
    torch.nn.functional.dropout itself; given the positions glassnet kept (read off its output),
    PyTorch's autograd of that formula must give glassnet's output and input gradient."""
    x = randn(seed, *shape)
    x[x == 0] = 1.0  # a zero in the output then means "dropped"
    for dtype, tdtype, rtol in ((np.float64, torch.float64, 1e-12), (np.float32, torch.float32, 1e-6)):
        xs = x.astype(dtype)
        out, cache = F.dropout_forward(xs, p, True, np.random.default_rng(seed))
        dout = randn(seed + 1, *shape, dtype=dtype)
        dx = F.dropout_backward(dout, cache)
        assert out.dtype == dx.dtype == dtype
        keep = torch.tensor(out != 0, dtype=tdtype)
        tx = torch.tensor(xs, requires_grad=True)
        t_out = tx * keep * torch_survivor_scale(p, tdtype)
        t_out.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=rtol)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_keeps_the_same_fraction_of_values_as_torchs_dropout(p):
    torch.manual_seed(0)
    ours = F.dropout_forward(np.ones(200_000), p, True, np.random.default_rng(0))[0]
    theirs = torch.nn.functional.dropout(torch.ones(200_000, dtype=torch.float64), p=p, training=True).numpy()
    # each fraction is within 4 standard deviations (sqrt(p(1-p)/n) < 0.0012) of 1 - p
    assert abs((ours != 0).mean() - (theirs != 0).mean()) < 0.01
    assert abs((ours != 0).mean() - (1 - p)) < 0.005


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
