"""The cs231n sandwich layers (glassnet.functional.layer_utils) against PyTorch and central differences,
and against their own parts run one after the other."""
from functools import partial

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_matches_torch, randn, seeds

import glassnet.functional as F


def torch_affine(x, w, b):
    return TF.linear(x.flatten(1), w.T, b)


def running_stats(d, dtype):
    return {"mean": np.linspace(-0.5, 0.5, d).astype(dtype), "var": np.linspace(0.5, 2.0, d).astype(dtype)}


def affine_bn_relu_pair(train, b, momentum=0.1):
    """glassnet's affine_bn_relu and PyTorch's linear -> batch_norm -> relu, both f(x, w, gamma, beta) with
    the bias ``b`` fixed: in train mode its gradient is exactly zero (batch norm subtracts the batch mean),
    so comparing it would compare rounding noise (test_..._bias_gradient_is_zero pins it instead)."""

    def forward(x, w, gamma, beta):
        return F.affine_bn_relu_forward(x, w, b.astype(x.dtype), gamma, beta, running_stats(w.shape[1], x.dtype), train, momentum)

    def backward(dout, cache):
        dx, dw, _, dgamma, dbeta = F.affine_bn_relu_backward(dout, cache)
        return dx, dw, dgamma, dbeta

    def torch_fn(x, w, gamma, beta):
        stats = {k: torch.tensor(v, dtype=x.dtype) for k, v in running_stats(w.shape[1], np.float64).items()}
        a = TF.batch_norm(torch_affine(x, w, torch.tensor(b, dtype=x.dtype)), stats["mean"], stats["var"], gamma, beta,
                          training=train, momentum=momentum)
        return TF.relu(a)

    return forward, backward, torch_fn


# ------------------------------------------------------------------ PyTorch parity
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 6), m=st.integers(1, 5), seed=seeds)
def test_affine_relu_forward_backward_match_torch_linear_then_relu(n, d, m, seed):
    x, w, b = randn(seed, n, 2, d), randn(seed + 1, 2 * d, m), randn(seed + 2, m)
    assert_matches_torch(F.affine_relu_forward, F.affine_relu_backward,
                         lambda x, w, b: TF.relu(torch_affine(x, w, b)), x, w, b, seed=seed)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 8), d=st.integers(1, 5), m=st.integers(1, 5), train=st.booleans(), seed=seeds)
def test_affine_bn_relu_forward_backward_match_torch_linear_batchnorm_relu(n, d, m, train, seed):
    forward, backward, torch_fn = affine_bn_relu_pair(train, b=randn(seed + 2, m))
    inputs = randn(seed, n, d), randn(seed + 1, d, m), 1 + randn(seed + 3, m) ** 2, randn(seed + 4, m)
    assert_matches_torch(forward, backward, torch_fn, *inputs, seed=seed)


def test_affine_bn_relu_eval_bias_gradient_matches_torch():
    x, w, b = randn(0, 5, 3), randn(1, 3, 4), randn(2, 4)
    gamma, beta = 1 + randn(3, 4) ** 2, randn(4, 4)

    def forward(x, w, b, gamma, beta):
        return F.affine_bn_relu_forward(x, w, b, gamma, beta, running_stats(4, x.dtype), False)

    def torch_fn(x, w, b, gamma, beta):
        stats = {k: torch.tensor(v, dtype=x.dtype) for k, v in running_stats(4, np.float64).items()}
        return TF.relu(TF.batch_norm(torch_affine(x, w, b), stats["mean"], stats["var"], gamma, beta, training=False))

    assert_matches_torch(forward, F.affine_bn_relu_backward, torch_fn, x, w, b, gamma, beta)


@st.composite
def conv_cases(draw):
    """Input (N, C, H, W), filters (F, C, k, k), stride and pad with an output of at least 2x2."""
    k, stride, pad = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(k + stride, 7)), draw(st.integers(k + stride, 7))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), (draw(st.integers(1, 4)), k), stride, pad


@settings(max_examples=25, deadline=None)
@given(case=conv_cases(), seed=seeds)
def test_conv_relu_forward_backward_match_torch_conv2d_then_relu(case, seed):
    (n, c, h, wd), (f, k), stride, pad = case
    x, w, b = randn(seed, n, c, h, wd), randn(seed + 1, f, c, k, k), randn(seed + 2, f)
    assert_matches_torch(partial(F.conv_relu_forward, stride=stride, pad=pad), F.conv_relu_backward,
                         lambda x, w, b: TF.relu(TF.conv2d(x, w, b, stride=stride, padding=pad)), x, w, b, seed=seed)


@settings(max_examples=25, deadline=None)
@given(case=conv_cases(), pool=st.sampled_from([(2, 2), (2, 1)]), seed=seeds)
def test_conv_relu_pool_forward_backward_match_torch_conv2d_relu_max_pool2d(case, pool, seed):
    (n, c, h, wd), (f, k), stride, pad = case
    size, pool_stride = pool
    x, w, b = randn(seed, n, c, h, wd), randn(seed + 1, f, c, k, k), randn(seed + 2, f)

    def torch_fn(x, w, b):
        return TF.max_pool2d(TF.relu(TF.conv2d(x, w, b, stride=stride, padding=pad)), size, pool_stride)

    forward = partial(F.conv_relu_pool_forward, stride=stride, pad=pad, pool_size=size, pool_stride=pool_stride)
    assert_matches_torch(forward, F.conv_relu_pool_backward, torch_fn, x, w, b, seed=seed)


def test_affine_bn_relu_train_updates_running_stats_in_place_with_torch_momentum_convention():
    x, w, b = randn(0, 6, 3), randn(1, 3, 2), randn(2, 2)
    running = {"mean": np.zeros(2), "var": np.ones(2)}
    arrays = running["mean"], running["var"]
    F.affine_bn_relu_forward(x, w, b, np.ones(2), np.zeros(2), running, train=True, momentum=0.1)
    a = x @ w + b
    assert running["mean"] is arrays[0] and running["var"] is arrays[1]
    np.testing.assert_allclose(running["mean"], 0.1 * a.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(running["var"], 0.9 + 0.1 * a.var(axis=0, ddof=1), rtol=1e-12)


# ------------------------------------------------------------------ gradients
# The central-difference checks of every sandwich are in test_gradcheck.py (its table covers every kernel).
def test_affine_bn_relu_train_bias_gradient_is_zero_because_batch_norm_removes_the_mean():
    x, w, b, gamma, beta = randn(0, 5, 3), randn(1, 3, 4), randn(2, 4), 1 + randn(3, 4) ** 2, randn(4, 4)
    out, cache = F.affine_bn_relu_forward(x, w, b, gamma, beta, running_stats(4, np.float64), True)
    db = F.affine_bn_relu_backward(randn(5, *out.shape), cache)[2]
    np.testing.assert_allclose(db, 0.0, atol=1e-12)


def test_conv_sandwiches_pass_dilation_and_groups_to_the_convolution():
    x, w, b = randn(0, 2, 4, 9, 9), randn(1, 6, 2, 3, 3), randn(2, 6)

    def torch_fn(x, w, b):
        return TF.max_pool2d(TF.relu(TF.conv2d(x, w, b, stride=1, padding=2, dilation=2, groups=2)), 2, 2)

    forward = partial(F.conv_relu_pool_forward, stride=1, pad=2, dilation=2, groups=2)
    assert_matches_torch(forward, F.conv_relu_pool_backward, torch_fn, x, w, b, seed=0)
    assert_matches_torch(partial(F.conv_relu_forward, pad=2, dilation=2, groups=2), F.conv_relu_backward,
                         lambda x, w, b: TF.relu(TF.conv2d(x, w, b, padding=2, dilation=2, groups=2)), x, w, b, seed=1)


# ------------------------------------------------------------------ contracts
def test_conv_relu_pool_equals_its_parts_one_after_the_other():
    x, w, b = randn(0, 2, 3, 6, 6), randn(1, 4, 3, 3, 3), randn(2, 4)
    out, _ = F.conv_relu_pool_forward(x, w, b, stride=1, pad=1, pool_size=2, pool_stride=2)
    a, _ = F.conv_forward(x, w, b, stride=1, pad=1)
    r, _ = F.relu_forward(a)
    expected, _ = F.max_pool_forward(r, size=2, stride=2)
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (2, 4, 3, 3)


def test_affine_bn_relu_backward_returns_five_gradients_shaped_like_the_inputs():
    inputs = randn(0, 4, 3), randn(1, 3, 2), randn(2, 2), np.ones(2), np.zeros(2)
    out, cache = F.affine_bn_relu_forward(*inputs, running_stats(2, np.float64), True)
    grads = F.affine_bn_relu_backward(np.ones_like(out), cache)
    assert [g.shape for g in grads] == [a.shape for a in inputs]


def test_sandwiches_keep_float32():
    x, w, b = (a.astype(np.float32) for a in (randn(0, 2, 1, 5, 5), randn(1, 2, 1, 3, 3), randn(2, 2)))
    out, cache = F.conv_relu_pool_forward(x, w, b, pad=1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.conv_relu_pool_backward(np.ones_like(out), cache))
