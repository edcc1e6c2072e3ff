"""Batch normalisation against PyTorch: train (batch statistics) and eval (running statistics),
(N, D) and (N, C, H, W), and the running-statistics convention (unbiased variance, momentum 0.1)."""
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import (
    assert_close, assert_matches_torch, assert_module_matches_torch, is_compiled, randn, seeds,
)

import glassnet.functional as F
from glassnet import nn


@st.composite
def bn_shapes(draw):
    """(N, D), (N, C, L) or (N, C, H, W) with at least two values per feature (training needs a variance)."""
    rank = draw(st.sampled_from([2, 3, 4]))
    if rank == 2:
        return (draw(st.integers(2, 6)), draw(st.integers(1, 5)))
    if rank == 3:
        n, length = draw(st.integers(1, 4)), draw(st.integers(1, 6))
        return (max(n, 2) if n * length < 2 else n, draw(st.integers(1, 4)), length)
    n, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if n * h * w < 2:
        n = 2
    return (n, draw(st.integers(1, 4)), h, w)


momenta = st.sampled_from([0.1, 0.01, 0.5, 1.0])


def batchnorm_pair(running_mean, running_var, train, momentum=0.1, eps=1e-5):
    """The glassnet kernel and torch.nn.functional.batch_norm, both as f(x, gamma, beta),
    each starting from its own copy of the running statistics (in x's dtype)."""

    def forward(x, gamma, beta):
        running = {"mean": running_mean.astype(x.dtype), "var": running_var.astype(x.dtype)}
        return F.batchnorm_forward(x, gamma, beta, running, train, momentum, eps)

    def torch_fn(x, gamma, beta):
        rm, rv = torch.tensor(running_mean, dtype=x.dtype), torch.tensor(running_var, dtype=x.dtype)
        return TF.batch_norm(x, rm, rv, gamma, beta, training=train, momentum=momentum, eps=eps)

    return forward, torch_fn


def bn_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.normal(rng.normal(0, 2, c).reshape((1, c) + (1,) * (len(shape) - 2)), rng.uniform(0.5, 3), shape)
    return x, rng.uniform(0.5, 1.5, c), rng.standard_normal(c)


def running_stats(c, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(c), rng.uniform(0.5, 2.0, c)


# ------------------------------------------------------------------ kernel
@settings(max_examples=50, deadline=None)
@given(shape=bn_shapes(), momentum=momenta, seed=seeds)
def test_batchnorm_train_forward_backward_match_torch(shape, momentum, seed):
    forward, torch_fn = batchnorm_pair(*running_stats(shape[1], seed), train=True, momentum=momentum)
    assert_matches_torch(forward, F.batchnorm_backward, torch_fn, *bn_inputs(shape, seed), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=bn_shapes(), seed=seeds)
def test_batchnorm_eval_forward_backward_match_torch_using_running_stats(shape, seed):
    forward, torch_fn = batchnorm_pair(*running_stats(shape[1], seed), train=False)
    assert_matches_torch(forward, F.batchnorm_backward, torch_fn, *bn_inputs(shape, seed), seed=seed)


@settings(max_examples=50, deadline=None)
@given(shape=bn_shapes(), momentum=momenta, seed=seeds)
def test_batchnorm_train_updates_running_stats_in_place_like_torch(shape, momentum, seed):
    x, gamma, beta = bn_inputs(shape, seed)
    mean, var = running_stats(shape[1], seed)
    running = {"mean": mean.copy(), "var": var.copy()}
    arrays = running["mean"], running["var"]
    t_mean, t_var = torch.tensor(mean), torch.tensor(var)
    F.batchnorm_forward(x, gamma, beta, running, True, momentum)
    TF.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(gamma), torch.tensor(beta), training=True, momentum=momentum)
    assert running["mean"] is arrays[0] and running["var"] is arrays[1], "running stats must be updated in place"
    assert_close(running["mean"], t_mean, 1e-9, "running mean")
    assert_close(running["var"], t_var, 1e-9, "running var")


def test_batchnorm_momentum_0_1_keeps_0_9_of_running_and_uses_unbiased_batch_variance():
    x = np.array([[1.0, 10.0], [2.0, 20.0], [6.0, 0.0]])
    running = {"mean": np.array([1.0, -1.0]), "var": np.array([2.0, 0.5])}
    F.batchnorm_forward(x, np.ones(2), np.zeros(2), running, train=True)
    np.testing.assert_allclose(running["mean"], 0.9 * np.array([1.0, -1.0]) + 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(running["var"], 0.9 * np.array([2.0, 0.5]) + 0.1 * x.var(axis=0, ddof=1), rtol=1e-14)


def test_batchnorm2d_normalises_each_channel_over_n_h_w_with_the_biased_variance():
    x, _, _ = bn_inputs((3, 4, 5, 2), 0)
    out, _ = F.batchnorm_forward(x, np.ones(4), np.zeros(4), {"mean": np.zeros(4), "var": np.ones(4)}, True, eps=0.0)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-12)


def test_batchnorm_eval_uses_running_stats_and_leaves_them_unchanged():
    running = {"mean": np.array([1.0, -2.0, 0.5]), "var": np.array([4.0, 0.25, 1.0])}
    before = {k: v.copy() for k, v in running.items()}
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    x = randn(0, 1, 3, 2, 2)  # a batch of one: eval mode needs no batch statistics
    out, _ = F.batchnorm_forward(x, gamma, beta, running, train=False, eps=1e-5)
    expected = (x - before["mean"][:, None, None]) / np.sqrt(before["var"][:, None, None] + 1e-5) * gamma[:, None, None] + beta[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    for k in running:
        np.testing.assert_array_equal(running[k], before[k])


# ------------------------------------------------------------------ modules
def make_batchnorm(cls, c, seed):
    """A BN module with non-trivial gamma/beta (the defaults 1 and 0 would hide mistakes)."""

    def make():
        m = cls(c)
        rng = np.random.default_rng(seed)
        m.weight.data[...] = rng.uniform(0.5, 1.5, c)
        m.bias.data[...] = rng.standard_normal(c)
        return m

    return make


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 6), d=st.integers(1, 5), seed=seeds)
def test_batchnorm1d_three_train_steps_then_eval_match_torch_including_running_stats(n, d, seed):
    batches = [bn_inputs((n, d), seed + k)[0] for k in range(4)]
    assert_module_matches_torch(make_batchnorm(nn.BatchNorm1d, d, seed), torch.nn.BatchNorm1d(d), *batches,
                                train=(True, True, True, False), seed=seed)


def assert_three_train_steps_then_eval_match_torch(cls, torch_cls, shape, seed):
    """Four batches of ``shape`` through ``cls`` and ``torch_cls`` (three in train mode, then eval)."""
    batches = [bn_inputs(shape, seed + k)[0] for k in range(4)]
    assert_module_matches_torch(make_batchnorm(cls, shape[1], seed), torch_cls(shape[1]), *batches,
                                train=(True, True, True, False), seed=seed)


@settings(max_examples=30, deadline=None)
@given(shape=bn_shapes().filter(lambda s: len(s) == 3), seed=seeds)
def test_batchnorm1d_on_signals_n_c_l_three_train_steps_then_eval_match_torch(shape, seed):
    assert_three_train_steps_then_eval_match_torch(nn.BatchNorm1d, torch.nn.BatchNorm1d, shape, seed)


def test_batchnorm1d_normalises_each_channel_of_a_signal_over_n_and_l():
    x = randn(0, 4, 3, 7) * 3 + 2
    out = nn.BatchNorm1d(3).train()(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2)), 1, rtol=1e-4)


@settings(max_examples=50, deadline=None)
@given(shape=bn_shapes().filter(lambda s: len(s) == 4), seed=seeds)
def test_batchnorm2d_three_train_steps_then_eval_match_torch_including_running_stats(shape, seed):
    assert_three_train_steps_then_eval_match_torch(nn.BatchNorm2d, torch.nn.BatchNorm2d, shape, seed)


@pytest.mark.parametrize("momentum", [0.01, 0.3])
def test_batchnorm2d_momentum_argument_matches_torch(momentum):
    batches = [bn_inputs((3, 2, 3, 3), k)[0] for k in range(3)]
    assert_module_matches_torch(partial(nn.BatchNorm2d, 2, momentum=momentum), torch.nn.BatchNorm2d(2, momentum=momentum),
                                *batches, train=(True, True, False))


def test_batchnorm_module_buffers_start_at_zero_mean_unit_var_and_gamma_one_beta_zero():
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var, np.ones(3))
    np.testing.assert_array_equal(bn.weight.data, np.ones(3))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(3))
    assert (bn.eps, bn.momentum) == (1e-5, 0.1)


def test_batchnorm_module_in_eval_mode_gives_each_sample_the_same_output_whatever_the_batch(float64):
    bn = nn.BatchNorm1d(3)
    for k in range(3):
        bn(bn_inputs((8, 3), k)[0])
    bn.eval()
    x = bn_inputs((5, 3), 9)[0]
    np.testing.assert_allclose(bn(x)[:1], bn(x[:1]), rtol=1e-14)


# ------------------------------------------------------------------ compiled twin (functional/_numba/norm.py)
# Cases chosen to reach the compiled code paths; the fixture compiled_kernels runs them on two threads,
# with parallel kernels even on tiny arrays.
def bn_pair(train, momentum=0.1, eps=1e-5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)

    def forward(x, gamma, beta):
        running = {"mean": rm.astype(x.dtype), "var": rv.astype(x.dtype)}
        return F.batchnorm_forward(x, gamma, beta, running, train, momentum, eps)

    def torch_fn(x, gamma, beta):
        return TF.batch_norm(x, torch.tensor(rm, dtype=x.dtype), torch.tensor(rv, dtype=x.dtype), gamma, beta,
                             training=train, momentum=momentum, eps=eps)

    return forward, torch_fn


@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5), train=st.booleans(), seed=seeds)
def test_compiled_batchnorm_matches_torch_train_and_eval(n, h, w, train, seed):
    if train and n * h * w < 2:
        n = 2
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.normal(0, 3, (1, 3, 1, 1)), rng.uniform(0.5, 3), (n, 3, h, w))
    forward, torch_fn = bn_pair(train, seed=seed)
    assert is_compiled(forward(x, np.ones(3), np.zeros(3))[1])
    assert_matches_torch(forward, F.batchnorm_backward, torch_fn, x, rng.uniform(0.5, 1.5, 3), rng.standard_normal(3),
                         seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("train", [True, False])
def test_compiled_batchnorm_on_signals_n_c_l_matches_torch(train):
    rng = np.random.default_rng(0)
    x = rng.normal(rng.normal(0, 3, (1, 3, 1)), 2.0, (4, 3, 17))
    forward, torch_fn = bn_pair(train, seed=0)
    assert is_compiled(forward(x, np.ones(3), np.zeros(3))[1])
    assert_matches_torch(forward, F.batchnorm_backward, torch_fn, x, rng.uniform(0.5, 1.5, 3), rng.standard_normal(3))


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_batchnorm_running_statistics_follow_torch_with_an_offset_mean():
    """Shifted one-pass sums must not lose the variance of data far from zero."""
    x = 1000.0 + randn(0, 8, 3, 5, 5)
    running = {"mean": np.zeros(3), "var": np.ones(3)}
    F.batchnorm_forward(x, np.ones(3), np.zeros(3), running, True, 0.1, 1e-5)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    TF.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=0.1, eps=1e-5)
    assert_close(running["mean"], rm, 1e-12, "running mean")
    assert_close(running["var"], rv, 1e-9, "running var")


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_batchnorm_gives_the_same_bits_on_one_two_and_three_threads(monkeypatch, relu, dtype):
    """The per-channel sums are cut by channels into pieces that depend on the thread count (11
    channels: 1, 8 and 11 pieces); each channel's sums must not depend on which piece holds it."""
    from glassnet import kernels
    from glassnet.functional._numba import threads

    monkeypatch.setattr(threads, "PARALLEL_MIN", 0)
    shape = (5, 11, 3, 7)
    x, gamma, beta = (a.astype(dtype) for a in bn_inputs(shape, 3))
    dout = randn(4, *shape).astype(dtype)
    forward, backward = ((F.batchnorm_relu_forward, F.batchnorm_relu_backward) if relu
                         else (F.batchnorm_forward, F.batchnorm_backward))

    def run(n_threads):
        running = {"mean": np.zeros(11, dtype), "var": np.ones(11, dtype)}
        with kernels.using("numba", threads=n_threads):
            out, cache = forward(x, gamma, beta, running, True)
            assert is_compiled(cache[0] if relu else cache)
            return (out, running["mean"], running["var"], *backward(dout, cache))

    one = run(1)
    for n_threads in (2, 3):
        for name, a, b in zip(("out", "running mean", "running var", "dx", "dgamma", "dbeta"), one, run(n_threads)):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} on {n_threads} threads")


# ------------------------------------------------------------------ batch norm followed by ReLU
@settings(max_examples=30, deadline=None)
@given(shape=bn_shapes(), train=st.booleans(), seed=seeds)
def test_batchnorm_relu_forward_backward_match_torch_batch_norm_then_relu(shape, train, seed):
    x, gamma, beta = bn_inputs(shape, seed)

    def forward_relu(x, gamma, beta):
        running = {"mean": np.zeros(shape[1], x.dtype), "var": np.ones(shape[1], x.dtype)}
        return F.batchnorm_relu_forward(x, gamma, beta, running, train)

    def torch_fn(x, gamma, beta):
        rm, rv = torch.zeros(shape[1], dtype=x.dtype), torch.ones(shape[1], dtype=x.dtype)
        return TF.relu(TF.batch_norm(x, rm, rv, gamma, beta, training=train))

    assert_matches_torch(forward_relu, F.batchnorm_relu_backward, torch_fn, x, gamma, beta, seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (3, 2, 17)])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_batchnorm_relu_equals_batch_norm_then_relu_and_either_backward_takes_its_caches(shape, train, dtype):
    """The fused twin writes max(., 0) in batch norm's own pass: the same output bit for bit, the same
    running statistics, and the caches the two kernels return, so the fused backward and the parts'
    backwards give the same gradients from either forward's caches."""
    x, gamma, beta = (a.astype(dtype) for a in bn_inputs(shape, 0))
    dout = randn(1, *shape).astype(dtype)
    fused_running = {"mean": np.zeros(shape[1], dtype), "var": np.ones(shape[1], dtype)}
    parts_running = {"mean": np.zeros(shape[1], dtype), "var": np.ones(shape[1], dtype)}
    out, cache = F.batchnorm_relu_forward(x, gamma, beta, fused_running, train)
    a, bn_cache = F.batchnorm_forward(x, gamma, beta, parts_running, train)
    expected, relu_cache = F.relu_forward(a)
    assert all(is_compiled(c) for c in (*cache, bn_cache, relu_cache))
    np.testing.assert_array_equal(out, expected)
    for key in ("mean", "var"):
        np.testing.assert_array_equal(fused_running[key], parts_running[key])
    parts = F.batchnorm_backward(F.relu_backward(dout, relu_cache), bn_cache)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for caches in (cache, (bn_cache, relu_cache)):
        for got, want, name in zip(F.batchnorm_relu_backward(dout, caches), parts, ("dx", "dgamma", "dbeta")):
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, err_msg=name, **tol)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_batchnorm_relu_keeps_nan_and_zeroes_the_gradient_where_relu_was_off():
    x = randn(0, 2, 2, 3, 3)
    x[0, 1, 1, 1] = np.nan  # channel 1's statistics become NaN: all its outputs NaN, as in PyTorch
    running = {"mean": np.zeros(2), "var": np.ones(2)}
    out, cache = F.batchnorm_relu_forward(x, np.ones(2), np.zeros(2), running, True)
    assert np.isnan(out[:, 1]).all() and not np.isnan(out[:, 0]).any()
    assert (out[:, 0] == 0).any() and (out[:, 0] >= 0).all()
    dx_parts = F.batchnorm_backward(F.relu_backward(np.ones_like(x), cache[1]), cache[0])[0]
    dx = F.batchnorm_relu_backward(np.ones_like(x), cache)[0]
    np.testing.assert_allclose(dx[:, 0], dx_parts[:, 0], rtol=1e-12, atol=1e-14)


def test_batchnorm_relu_checks_its_input_like_batchnorm():
    running = {"mean": np.zeros(3), "var": np.ones(3)}
    with pytest.raises(ValueError, match=r"input has 3 features/channels \(shape \(2, 3, 4, 4\)\) but gamma has shape \(4,\)"):
        F.batchnorm_relu_forward(np.zeros((2, 3, 4, 4)), np.ones(4), np.zeros(4), running, True)
    with pytest.raises(ValueError, match=r"more than one value per channel, got input shape \(1, 3, 1, 1\)"):
        F.batchnorm_relu_forward(np.zeros((1, 3, 1, 1)), np.ones(3), np.zeros(3), running, True)


# ------------------------------------------------------------------ bad input: errors name the layer and both shapes
def test_batchnorm2d_wrong_channel_count_names_layer_and_shapes(error_model):
    with pytest.raises(ValueError, match=r"layer '1' BatchNorm2d\(4, .*expected 4 channels.*\(N, 4, H, W\), got shape \(2, 3, 4, 4\)"):
        error_model[1](np.zeros((2, 3, 4, 4), np.float32))


def test_batchnorm1d_wrong_rank_and_wrong_feature_count_name_layer_and_shapes(error_model):
    with pytest.raises(ValueError, match=r"layer '6' BatchNorm1d\(2, .*expected input of shape \(N, 2\) or \(N, 2, L\), got \(2, 2, 1, 1\)"):
        error_model[6](np.zeros((2, 2, 1, 1), np.float32))
    with pytest.raises(ValueError, match=r"layer '6' BatchNorm1d\(2, .*\(N, 2\) or \(N, 2, L\), got shape \(2, 3\)"):
        error_model[6](np.zeros((2, 3), np.float32))


def test_batchnorm_kernel_rejects_wrong_rank_wrong_gamma_and_a_single_value_per_channel():
    running = {"mean": np.zeros(3), "var": np.ones(3)}
    with pytest.raises(ValueError, match=r"expected input of shape \(N, D\), \(N, C, L\) or \(N, C, H, W\), got \(2, 3, 4, 1, 1\)"):
        F.batchnorm_forward(np.zeros((2, 3, 4, 1, 1)), np.ones(3), np.zeros(3), running, True)
    with pytest.raises(ValueError, match=r"input has 3 features/channels \(shape \(2, 3\)\) but gamma has shape \(4,\)"):
        F.batchnorm_forward(np.zeros((2, 3)), np.ones(4), np.zeros(4), running, True)
    with pytest.raises(ValueError, match=r"more than one value per channel, got input shape \(1, 3\)"):
        F.batchnorm_forward(np.zeros((1, 3)), np.ones(3), np.zeros(3), running, True)
