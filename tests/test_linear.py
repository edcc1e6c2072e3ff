"""Affine kernel and Linear module against PyTorch; the (in, out) weight layout; FC as convolution."""
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from tests.torch_parity import assert_matches_torch, assert_module_matches_torch, prod, randn, seeds

import glassnet.functional as F
from glassnet import backend, nn


def torch_affine(x, w, b):
    """glassnet's w is (D, M): PyTorch's linear weight (M, D) is its transpose."""
    return torch.nn.functional.linear(x.flatten(1), w.T, b)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 5), feature_shape=array_shapes(min_dims=1, max_dims=3, max_side=4), m=st.integers(1, 6), seed=seeds)
def test_affine_forward_backward_match_torch_on_flattened_input(n, feature_shape, m, seed):
    d = prod(feature_shape)
    x, w, b = randn(seed, n, *feature_shape), randn(seed + 1, d, m), randn(seed + 2, m)
    assert_matches_torch(F.affine_forward, F.affine_backward, torch_affine, x, w, b, seed=seed)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 5), fin=st.integers(1, 8), fout=st.integers(1, 8), bias=st.booleans(), seed=seeds)
def test_linear_module_forward_backward_match_torch_linear(n, fin, fout, bias, seed):
    make = partial(nn.Linear, fin, fout, bias=bias, rng=np.random.default_rng(seed))
    assert_module_matches_torch(make, torch.nn.Linear(fin, fout, bias=bias), randn(seed, n, fin), randn(seed + 1, n, fin), seed=seed)


def test_linear_weight_is_in_by_out_the_transpose_of_torch_weight(float64):
    layer = nn.Linear(5, 3, rng=np.random.default_rng(0))
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (3,)
    reference = torch.nn.Linear(5, 3).double()
    reference.weight.data = torch.tensor(layer.weight.data.T)
    reference.bias.data = torch.tensor(layer.bias.data)
    x = randn(1, 4, 5)
    np.testing.assert_allclose(layer(x), reference(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_linear_flattens_nchw_input_like_torch_flatten_then_linear(float64):
    layer = nn.Linear(2 * 3 * 4, 5, rng=np.random.default_rng(0))
    x = randn(2, 3, 2, 3, 4)
    out = layer(x)
    dx = layer.backward(np.ones_like(out))
    np.testing.assert_allclose(out, x.reshape(3, -1) @ layer.weight.data + layer.bias.data, rtol=1e-12)
    assert dx.shape == x.shape


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 4), fout=st.integers(1, 5), seed=seeds)
def test_linear_as_conv2d_equals_the_linear_on_its_input_shape(n, c, h, w, fout, seed):
    with backend.default_dtype(np.float64):
        layer = nn.Linear(c * h * w, fout, rng=np.random.default_rng(seed))
        conv = layer.as_conv2d((c, h, w))
    x = randn(seed, n, c, h, w)
    out = conv(x)
    assert out.shape == (n, fout, 1, 1)
    np.testing.assert_allclose(out[:, :, 0, 0], layer(x), rtol=1e-10, atol=1e-12)


def test_linear_as_conv2d_slides_the_linear_over_a_larger_input(float64):
    layer = nn.Linear(2 * 3 * 3, 4, rng=np.random.default_rng(0))
    conv = layer.as_conv2d((2, 3, 3))
    x = randn(1, 2, 2, 5, 6)
    out = conv(x)
    assert out.shape == (2, 4, 3, 4)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(out[:, :, i, j], layer(x[:, :, i : i + 3, j : j + 3]), rtol=1e-10)


def test_linear_as_conv2d_rejects_an_input_shape_of_another_size(float64):
    with pytest.raises(ValueError, match=r"input shape \(2, 3, 3\) has 18 values, expected 20"):
        nn.Linear(20, 4).as_conv2d((2, 3, 3))


# ------------------------------------------------------------------ bad input: errors name the layer and both shapes
def test_linear_wrong_feature_count_names_layer_and_shapes(error_model):
    with pytest.raises(ValueError, match=r"layer '5' Linear\(4, 2\): expected input of shape \(N, 4\).*got \(2, 5\)"):
        error_model[5](np.zeros((2, 5), np.float32))


def test_linear_one_dimensional_input_names_expected_and_actual_shape():
    with pytest.raises(ValueError, match=r"Linear\(4, 2\): expected input of shape \(N, 4\).*got \(4,\)"):
        nn.Linear(4, 2)(np.zeros((4,), np.float32))


def test_affine_kernel_feature_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"input flattens to 5 features .* expects D=4 \(input shape \(2, 5\), weight shape \(4, 3\)\)"):
        F.affine_forward(np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(3))
