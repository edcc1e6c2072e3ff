"""Activations and softmax against PyTorch, their values at the kinks, and their stability at large |x|."""
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from tests.torch_parity import assert_matches_torch, assert_module_matches_torch, randn, seeds, strict_floats

import glassnet.functional as F
from glassnet import nn

shapes = array_shapes(min_dims=1, max_dims=4, max_side=5)
batch_shapes = array_shapes(min_dims=2, max_dims=4, max_side=5)
scales = st.sampled_from([0.1, 1.0, 10.0])
slopes = st.sampled_from([0.01, 0.2, 1.5])


# ------------------------------------------------------------------ kernels
@settings(max_examples=50, deadline=None)
@given(shape=shapes, scale=scales, seed=seeds)
def test_relu_forward_backward_match_torch(shape, scale, seed):
    assert_matches_torch(F.relu_forward, F.relu_backward, torch.relu, scale * randn(seed, *shape), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=shapes, slope=slopes, seed=seeds)
def test_leaky_relu_forward_backward_match_torch(shape, slope, seed):
    assert_matches_torch(partial(F.leaky_relu_forward, slope=slope), F.leaky_relu_backward,
                         partial(TF.leaky_relu, negative_slope=slope), randn(seed, *shape), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=shapes, scale=scales, seed=seeds)
def test_sigmoid_forward_backward_match_torch(shape, scale, seed):
    assert_matches_torch(F.sigmoid_forward, F.sigmoid_backward, torch.sigmoid, scale * randn(seed, *shape), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=shapes, scale=scales, seed=seeds)
def test_tanh_forward_backward_match_torch(shape, scale, seed):
    assert_matches_torch(F.tanh_forward, F.tanh_backward, torch.tanh, scale * randn(seed, *shape), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=batch_shapes, scale=scales, data=st.data(), seed=seeds)
def test_softmax_forward_backward_match_torch_along_any_axis(shape, scale, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    assert_matches_torch(partial(F.softmax_forward, axis=axis), F.softmax_backward,
                         partial(torch.softmax, dim=axis), scale * randn(seed, *shape), seed=seed)


# ------------------------------------------------------------------ kinks (the subgradient PyTorch picks)
def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    assert_matches_torch(F.relu_forward, F.relu_backward, torch.relu, x)
    np.testing.assert_array_equal(F.relu_backward(np.ones(3), F.relu_forward(x)[1]), [0.0, 0.0, 1.0])


def test_leaky_relu_gradient_at_zero_is_the_slope_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    assert_matches_torch(partial(F.leaky_relu_forward, slope=0.1), F.leaky_relu_backward, partial(TF.leaky_relu, negative_slope=0.1), x)


# ------------------------------------------------------------------ stability
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_stable_and_exact_at_large_abs_x(dtype):
    x = np.array([-1e4, -1e3, -100.0, -30.0, 0.0, 30.0, 100.0, 1e3, 1e4], dtype=dtype)
    with strict_floats():  # an overflowing exp(-x) would raise here
        out, cache = F.sigmoid_forward(x)
        dx = F.sigmoid_backward(np.ones_like(x), cache)
    assert out.dtype == dtype and np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    np.testing.assert_array_equal(out[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])
    assert out[4] == 0.5
    np.testing.assert_allclose(out, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-30)  # torch flushes denormals
    assert_matches_torch(F.sigmoid_forward, F.sigmoid_backward, torch.sigmoid, x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_is_stable_for_huge_logits(dtype):
    x = np.array([[1e4, 0.0, -1e4], [1e3, 1e3, 1e3 - 1.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    with strict_floats():
        out, _ = F.softmax_forward(x)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, torch.softmax(torch.tensor(x), dim=1).numpy(), rtol=1e-6, atol=1e-30)
    assert_matches_torch(F.softmax_forward, F.softmax_backward, partial(torch.softmax, dim=1), x)


def test_tanh_saturates_without_overflow():
    x = np.array([-1e4, -50.0, 50.0, 1e4])
    assert_matches_torch(F.tanh_forward, F.tanh_backward, torch.tanh, x)


# ------------------------------------------------------------------ modules
MODULES = [
    pytest.param(nn.ReLU, torch.nn.ReLU, id="ReLU"),
    pytest.param(partial(nn.LeakyReLU, 0.2), partial(torch.nn.LeakyReLU, 0.2), id="LeakyReLU"),
    pytest.param(nn.Sigmoid, torch.nn.Sigmoid, id="Sigmoid"),
    pytest.param(nn.Tanh, torch.nn.Tanh, id="Tanh"),
    pytest.param(nn.Softmax, partial(torch.nn.Softmax, dim=1), id="Softmax"),
]


@pytest.mark.parametrize("make, make_torch", MODULES)
@settings(max_examples=50, deadline=None)
@given(shape=batch_shapes, scale=scales, seed=seeds)
def test_activation_module_matches_torch(make, make_torch, shape, scale, seed):
    assert_module_matches_torch(make, make_torch(), scale * randn(seed, *shape), seed=seed)


def test_softmax_module_over_another_dim_matches_torch():
    assert_module_matches_torch(partial(nn.Softmax, dim=-1), torch.nn.Softmax(dim=-1), randn(0, 2, 3, 4))


def test_leaky_relu_default_slope_is_torchs_0_01():
    assert nn.LeakyReLU().slope == torch.nn.LeakyReLU().negative_slope == 0.01


# ------------------------------------------------------------------ compiled twin (functional/_numba/activation.py)
# Cases chosen to reach the compiled code paths; the fixture compiled_kernels runs them on two threads,
# with parallel kernels even on tiny arrays.
@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=seeds)
def test_compiled_relu_matches_torch(shape, seed):
    assert_matches_torch(F.relu_forward, F.relu_backward, torch.relu, randn(seed, *shape), seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_relu_keeps_nan_and_sends_no_gradient_through_it():
    x = np.array([-1.0, np.nan, 2.0, 0.0])
    out, cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, [0.0, np.nan, 2.0, 0.0])
    np.testing.assert_array_equal(F.relu_backward(np.ones(4), cache), [0.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_relu_in_place_equals_relu_into_another_array(dtype):
    """The inference plan's in-place ReLU (vectorised, where _relu(a, a) is not) gives _relu's values,
    NaN and infinities included, and leaves the entries outside [lo, hi) alone."""
    from glassnet.functional._numba.activation import _relu, _relu_in_place

    a = randn(0, 1000).astype(dtype)
    a[[10, 500, 990]] = np.nan, -np.inf, np.inf
    expected = np.empty_like(a)
    _relu(a, expected, 0, a.size)
    b = a.copy()
    _relu_in_place(b, 7, 993)
    np.testing.assert_array_equal(b[7:993], expected[7:993])
    np.testing.assert_array_equal(b[:7], a[:7])
    np.testing.assert_array_equal(b[993:], a[993:])
    assert np.isnan(b[10]) and b[500] == 0 and b[990] == np.inf
