"""Max, average and global average pooling against PyTorch and against naive loops; max-pool ties."""
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import (
    KERNEL_IMPLEMENTATIONS, assert_matches_torch, assert_module_matches_torch, is_compiled, kernels_used, randn, seeds,
)

import glassnet.functional as F
from glassnet import nn


@st.composite
def pool_cases(draw):
    """Rectangular windows and strides, overlapping (stride < size) or not, sizes that need not divide."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return dict(
        n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), kh=kh, kw=kw,
        sh=draw(st.integers(1, 3)), sw=draw(st.integers(1, 3)),
        h=draw(st.integers(kh, kh + 7)), w=draw(st.integers(kw, kw + 7)),
    )


def pool_input(case, seed):
    return randn(seed, case["n"], case["c"], case["h"], case["w"])


# ------------------------------------------------------------------ naive loop references (tests only)
def pool_loops(x, size, stride, reduce):
    """out[n, c, i, j] = reduce(window at (i*sh, j*sw)), by loops over every output position."""
    (kh, kw), (sh, sw) = size, stride
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i_n in range(n):
        for i_c in range(c):
            for i in range(ho):
                for j in range(wo):
                    out[i_n, i_c, i, j] = reduce(x[i_n, i_c, i * sh : i * sh + kh, j * sw : j * sw + kw])
    return out


def max_pool_backward_loops(dout, x, size, stride):
    """Each output's gradient goes to the first (row-major) maximum of its window."""
    (kh, kw), (sh, sw) = size, stride
    dx = np.zeros_like(x)
    for i_n, i_c, i, j in np.ndindex(*dout.shape):
        window = x[i_n, i_c, i * sh : i * sh + kh, j * sw : j * sw + kw]
        a, b = np.unravel_index(np.argmax(window), window.shape)
        dx[i_n, i_c, i * sh + a, j * sw + b] += dout[i_n, i_c, i, j]
    return dx


def avg_pool_backward_loops(dout, x, size, stride):
    (kh, kw), (sh, sw) = size, stride
    dx = np.zeros_like(x)
    for i_n, i_c, i, j in np.ndindex(*dout.shape):
        dx[i_n, i_c, i * sh : i * sh + kh, j * sw : j * sw + kw] += dout[i_n, i_c, i, j] / (kh * kw)
    return dx


# ------------------------------------------------------------------ kernels against PyTorch
@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_max_pool_forward_backward_match_torch(case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    assert_matches_torch(
        partial(F.max_pool_forward, size=size, stride=stride), F.max_pool_backward,
        partial(TF.max_pool2d, kernel_size=size, stride=stride), pool_input(case, seed), seed=seed,
    )


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_avg_pool_forward_backward_match_torch(case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    assert_matches_torch(
        partial(F.avg_pool_forward, size=size, stride=stride), F.avg_pool_backward,
        partial(TF.avg_pool2d, kernel_size=size, stride=stride), pool_input(case, seed), seed=seed,
    )


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_global_avg_pool_forward_backward_match_torch_adaptive_avg_pool_1x1(case, seed):
    def torch_global_avg(x):
        return TF.adaptive_avg_pool2d(x, 1).flatten(1)

    assert_matches_torch(F.global_avg_pool_forward, F.global_avg_pool_backward, torch_global_avg, pool_input(case, seed), seed=seed)


def test_max_pool_overlapping_size3_stride2_on_sizes_that_do_not_divide_matches_torch():
    x = randn(0, 2, 3, 7, 10)
    assert_matches_torch(partial(F.max_pool_forward, size=3, stride=2), F.max_pool_backward,
                         partial(TF.max_pool2d, kernel_size=3, stride=2), x)


def test_avg_pool_overlapping_size3_stride2_on_sizes_that_do_not_divide_matches_torch():
    x = randn(0, 2, 3, 8, 9)
    assert_matches_torch(partial(F.avg_pool_forward, size=3, stride=2), F.avg_pool_backward,
                         partial(TF.avg_pool2d, kernel_size=3, stride=2), x)


# ------------------------------------------------------------------ ties
def test_max_pool_tie_sends_the_gradient_to_the_first_maximum_like_torch():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 3.0]]]])
    out, cache = F.max_pool_forward(x, size=2, stride=1)
    dx = F.max_pool_backward(np.ones_like(out), cache)
    # windows: top-left -> (0,1); top-right -> (0,1); bottom-left -> (1,0); bottom-right -> (1,2)
    expected = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dx[0, 0], expected)
    tx = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(tx, 2, 1).sum().backward()
    np.testing.assert_array_equal(dx, tx.grad.numpy())


TIE_CASES = {  # (plane, size, stride): every window holds its maximum at two or more positions
    "2x2-tiled-all-equal": (np.ones((4, 4)), 2, 2),
    "2x2-overlapping": (np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 3.0]]), 2, 1),
    "3x2-tiled-max-last-in-row": (np.array([[0.0, 5.0, 5.0, 1.0], [5.0, 5.0, 1.0, 5.0], [2.0, 2.0, 5.0, 5.0]]), (3, 2), (3, 2)),
    "3x3-stride2-overlapping": (np.tile([[2.0, 2.0, 1.0], [1.0, 2.0, 2.0]], (3, 2)), 3, 2),
}


@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
@pytest.mark.parametrize("case", list(TIE_CASES))
def test_max_pool_ties_send_the_gradient_to_the_first_maximum_under_each_kernel_implementation(kernels, case):
    """Fixed examples (a random draw found the NumPy path's tie bug only by chance): with tied maxima
    the gradient goes to the first one in row-major order, exactly PyTorch's routing."""
    plane, size, stride = TIE_CASES[case]
    x = plane[None, None]
    with kernels_used(kernels):
        out, cache = F.max_pool_forward(x, size, stride)
        dx = F.max_pool_backward(np.ones_like(out), cache)
    tx = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(tx, size, stride).sum().backward()
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    assert dx.sum() == out.size  # one position per window


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), levels=st.integers(1, 3), seed=seeds)
def test_max_pool_with_many_ties_matches_torch_gradient_routing(case, levels, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    x = np.random.default_rng(seed).integers(0, levels, (case["n"], case["c"], case["h"], case["w"])).astype(np.float64)
    assert_matches_torch(partial(F.max_pool_forward, size=size, stride=stride), F.max_pool_backward,
                         partial(TF.max_pool2d, kernel_size=size, stride=stride), x, seed=seed)


# ------------------------------------------------------------------ kernels against naive loops
@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_max_pool_kernel_equals_naive_loop_reference(kernels, case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    x = pool_input(case, seed)
    with kernels_used(kernels):
        out, cache = F.max_pool_forward(x, size, stride)
        dout = randn(seed + 1, *out.shape)
        dx = F.max_pool_backward(dout, cache)
    np.testing.assert_array_equal(out, pool_loops(x, size, stride, np.max))
    np.testing.assert_allclose(dx, max_pool_backward_loops(dout, x, size, stride), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_avg_pool_kernel_equals_naive_loop_reference(kernels, case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    x = pool_input(case, seed)
    with kernels_used(kernels):
        out, cache = F.avg_pool_forward(x, size, stride)
        dout = randn(seed + 1, *out.shape)
        dx = F.avg_pool_backward(dout, cache)
    np.testing.assert_allclose(out, pool_loops(x, size, stride, np.mean), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, avg_pool_backward_loops(dout, x, size, stride), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ modules
@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_maxpool2d_module_matches_torch(case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    assert_module_matches_torch(partial(nn.MaxPool2d, size, stride), torch.nn.MaxPool2d(size, stride), pool_input(case, seed), seed=seed)


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_avgpool2d_module_matches_torch(case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    assert_module_matches_torch(partial(nn.AvgPool2d, size, stride), torch.nn.AvgPool2d(size, stride), pool_input(case, seed), seed=seed)


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_global_avg_pool2d_module_matches_torch(case, seed):
    reference = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    assert_module_matches_torch(nn.GlobalAvgPool2d, reference, pool_input(case, seed), seed=seed)


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_flatten_module_matches_torch(case, seed):
    assert_module_matches_torch(nn.Flatten, torch.nn.Flatten(), pool_input(case, seed), seed=seed)


def test_maxpool2d_stride_defaults_to_kernel_size_like_torch():
    assert nn.MaxPool2d(3).stride == (3, 3)
    assert_module_matches_torch(partial(nn.MaxPool2d, 3), torch.nn.MaxPool2d(3), randn(0, 2, 2, 10, 8))
    assert_module_matches_torch(partial(nn.AvgPool2d, 3), torch.nn.AvgPool2d(3), randn(0, 2, 2, 10, 8))


# ------------------------------------------------------------------ compiled twin (functional/_numba/pool.py)
# Cases chosen to reach the compiled code paths; the fixture compiled_kernels runs them on two threads,
# with parallel kernels even on tiny arrays.
@st.composite
def compiled_pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    tiled = draw(st.booleans())
    sh, sw = (kh, kw) if tiled else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), kh=kh, kw=kw, sh=sh, sw=sw,
                h=draw(st.integers(kh, kh + 7)), w=draw(st.integers(kw, kw + 7)), ties=draw(st.booleans()))


@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=60, deadline=None)
@given(case=compiled_pool_cases(), seed=seeds)
def test_compiled_max_pool_matches_torch_including_ties(case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    if case["ties"]:
        x = np.round(x)  # many equal values: the gradient must go to the first maximum
    assert is_compiled(F.max_pool_forward(x, size, stride)[1])
    assert_matches_torch(partial(F.max_pool_forward, size=size, stride=stride), F.max_pool_backward,
                         partial(TF.max_pool2d, kernel_size=size, stride=stride), x, seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 9, 7), (1, 1, 2, 2), (5, 7, 10, 10), (3, 4, 6, 12)])
def test_compiled_2x2_max_pool_fast_path_matches_torch_on_even_and_odd_sizes(shape):
    """Even sizes run as row pairs over all the planes at once (shared between the threads by planes),
    odd ones plane by plane; rounded values make ties."""
    for x in (randn(0, *shape), np.round(randn(1, *shape))):
        assert_matches_torch(partial(F.max_pool_forward, size=2, stride=2), F.max_pool_backward,
                             partial(TF.max_pool2d, kernel_size=2, stride=2), x)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_max_pool_propagates_nan_like_torch():
    x = randn(0, 1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    out, _ = F.max_pool_forward(x, 2, 2)
    expected = TF.max_pool2d(torch.tensor(x), 2, 2).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(out[~np.isnan(out)], expected[~np.isnan(expected)])


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_max_pool_caches_its_input_and_output_without_copies():
    """Backward finds the first maxima again from x and out, arrays a network keeps anyway."""
    x = randn(0, 2, 3, 8, 8).astype(np.float32)
    out, cache = F.max_pool_forward(x, 2, 2)
    assert np.shares_memory(cache[1], x) and np.shares_memory(cache[2], out)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (2, 3, 1, 17), (40, 30, 2, 2)])
def test_compiled_global_avg_pool_matches_torch(shape):
    x = randn(0, *shape)
    assert is_compiled(F.global_avg_pool_forward(x)[1])
    assert_matches_torch(F.global_avg_pool_forward, F.global_avg_pool_backward,
                         lambda t: TF.adaptive_avg_pool2d(t, 1).flatten(1), x)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_global_avg_pool_sums_float32_planes_in_float64():
    """2**24 followed by 4095 ones: in float32 each 1 added to 2**24 is lost; the float64 sum is exact."""
    x = np.ones((2, 1, 64, 64), np.float32)
    x[:, :, 0, 0] = 2.0**24
    out = F.global_avg_pool_forward(x)[0]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32((2**24 + 4095) / 4096))


# ------------------------------------------------------------------ ReLU then max pooling, one fused pair
def torch_relu_max_pool(size, stride):
    return lambda x: TF.max_pool2d(torch.relu(x), kernel_size=size, stride=stride)


@settings(max_examples=50, deadline=None)
@given(case=compiled_pool_cases(), seed=seeds)
def test_relu_max_pool_forward_backward_match_torch_relu_then_max_pool(case, seed):
    """Both implementations (assert_matches_torch runs each), with rounded values for ties, windows all
    below zero (their gradient must stop at ReLU) and zeros."""
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    x = randn(seed, case["n"], case["c"], case["h"], case["w"]) - 0.5
    if case["ties"]:
        x = np.round(x)
    assert_matches_torch(partial(F.relu_max_pool_forward, size=size, stride=stride), F.relu_max_pool_backward,
                         torch_relu_max_pool(size, stride), x, seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("shape, size, stride", [((3, 4, 8, 8), 2, 2), ((2, 3, 9, 7), 2, 2), ((2, 3, 7, 10), 3, 2),
                                                 ((2, 2, 6, 9), (2, 3), (1, 2)), ((200, 3, 12, 12), 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_relu_max_pool_equals_relu_then_max_pool_and_either_backward_takes_its_caches(shape, size, stride, dtype):
    """The fused twin writes ReLU's output and pools it in one pass (blocks of planes: the last shape
    spans several): the same output and ReLU output bit for bit, the caches each kernel returns, and
    the same dx from the fused backward and from the two backwards, on either forward's caches. NaNs,
    windows at or below zero and ties included."""
    x = np.round(randn(0, *shape) * 2 - 1).astype(dtype)
    x[0, 0, 0, 0] = np.nan
    x[-1, -1, :2, :2] = -0.0
    dout = randn(1, *F.max_pool_forward(x, size, stride)[0].shape).astype(dtype)
    dout[0, 0, 0, 0] = np.nan  # reaches dx only where ReLU lets it: not through the NaN window
    out, cache = F.relu_max_pool_forward(x, size, stride)
    y, relu_cache = F.relu_forward(x)
    expected, pool_cache = F.max_pool_forward(y, size, stride)
    assert all(is_compiled(c) for c in (*cache, relu_cache, pool_cache))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(cache[0][1], y)
    np.testing.assert_array_equal(np.signbit(cache[0][1]), np.signbit(y))
    parts = F.relu_backward(F.max_pool_backward(dout, pool_cache), relu_cache)
    for caches in (cache, (relu_cache, pool_cache)):
        for dx in (F.relu_max_pool_backward(dout, caches), F.relu_backward(F.max_pool_backward(dout, caches[1]), caches[0])):
            assert dx.dtype == dtype and dx.shape == x.shape
            np.testing.assert_array_equal(dx, parts)
    assert not np.isnan(parts).any()


def test_relu_max_pool_checks_its_input_like_max_pool():
    with pytest.raises(ValueError, match=r"relu_max_pool_forward: expected input of shape \(N, C, H, W\), got \(2, 8\)"):
        F.relu_max_pool_forward(np.zeros((2, 8)))
    with pytest.raises(ValueError, match=r"relu_max_pool_forward"):
        F.relu_max_pool_forward(np.zeros((1, 1, 1, 1)), 2, 2)


# ------------------------------------------------------------------ bad input: errors name the layer and both shapes
@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.AvgPool2d(2), nn.GlobalAvgPool2d()], ids=lambda m: type(m).__name__)
def test_pooling_wrong_rank_names_layer_and_shapes(layer):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"layer '0' {name}\(.*expected input of shape \(N, C, H, W\), got \(2, 4\)"):
        nn.Sequential(layer)(np.zeros((2, 4), np.float32))


def test_maxpool_input_smaller_than_window_names_layer_and_sizes(error_model):
    with pytest.raises(ValueError, match=r"layer '3' MaxPool2d.*input spatial size \(1, 1\) is smaller than the window \(2, 2\)"):
        error_model[3](np.zeros((2, 4, 1, 1), np.float32))


# ------------------------------------------------------------------ 1-D pooling on (N, C, L) signals
@st.composite
def pool1d_cases(draw):
    k = draw(st.integers(1, 5))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), k=k, s=draw(st.integers(1, 4)),
                length=draw(st.integers(k, k + 12)), ties=draw(st.booleans()))


def pool1d_input(case, seed):
    x = randn(seed, case["n"], case["c"], case["length"])
    return np.round(x) if case["ties"] else x  # rounded: many ties, the gradient goes to the first maximum


@settings(max_examples=50, deadline=None)
@given(case=pool1d_cases(), seed=seeds)
def test_max_pool1d_forward_backward_match_torch_including_ties(case, seed):
    assert_matches_torch(partial(F.max_pool1d_forward, size=case["k"], stride=case["s"]), F.max_pool1d_backward,
                         partial(TF.max_pool1d, kernel_size=case["k"], stride=case["s"]), pool1d_input(case, seed), seed=seed)


@settings(max_examples=40, deadline=None)
@given(case=pool1d_cases(), seed=seeds)
def test_relu_max_pool1d_forward_backward_match_torch_relu_then_max_pool1d(case, seed):
    k, s = case["k"], case["s"]
    assert_matches_torch(partial(F.relu_max_pool1d_forward, size=k, stride=s), F.relu_max_pool1d_backward,
                         lambda x: TF.max_pool1d(torch.relu(x), kernel_size=k, stride=s), pool1d_input(case, seed) - 0.5,
                         seed=seed)


@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
def test_relu_max_pool1d_caches_are_the_signal_layers_own(kernels):
    """ReLU's cache keeps the signal's shape, so the layers' own backwards take the pair's caches."""
    x = np.round(randn(0, 2, 3, 11)) - 0.5
    dout = randn(1, 2, 3, 5)
    with kernels_used(kernels):
        out, (relu_cache, pool_cache) = F.relu_max_pool1d_forward(x, 2, 2)
        parts = F.relu_backward(F.max_pool1d_backward(dout, pool_cache), relu_cache)
        fused = F.relu_max_pool1d_backward(dout, (relu_cache, pool_cache))
    assert out.shape == (2, 3, 5) and parts.shape == fused.shape == x.shape
    np.testing.assert_array_equal(fused, parts)


@settings(max_examples=50, deadline=None)
@given(case=pool1d_cases(), seed=seeds)
def test_avg_pool1d_forward_backward_match_torch(case, seed):
    assert_matches_torch(partial(F.avg_pool1d_forward, size=case["k"], stride=case["s"]), F.avg_pool1d_backward,
                         partial(TF.avg_pool1d, kernel_size=case["k"], stride=case["s"]), pool1d_input(case, seed), seed=seed)


@settings(max_examples=30, deadline=None)
@given(case=pool1d_cases(), seed=seeds)
def test_pool1d_modules_match_torch_maxpool1d_avgpool1d_and_global_average(case, seed):
    x = pool1d_input(case, seed)
    k, s = case["k"], case["s"]
    assert_module_matches_torch(partial(nn.MaxPool1d, k, s), torch.nn.MaxPool1d(k, s), x, seed=seed)
    assert_module_matches_torch(partial(nn.AvgPool1d, k, s), torch.nn.AvgPool1d(k, s), x, seed=seed)
    reference = torch.nn.Sequential(torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten())
    assert_module_matches_torch(nn.GlobalAvgPool1d, reference, x, seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("length", [8, 9, 2])
def test_compiled_1x2_max_pool_fast_path_matches_torch_on_signals_with_ties(length):
    x = np.round(randn(0, 3, 2, length))  # many ties: the first maximum of each pair takes the gradient
    assert is_compiled(F.max_pool1d_forward(x, 2, 2)[1])
    assert_matches_torch(partial(F.max_pool1d_forward, size=2, stride=2), F.max_pool1d_backward,
                         partial(TF.max_pool1d, kernel_size=2, stride=2), x)


def test_maxpool1d_stride_defaults_to_kernel_size_and_accepts_one_tuples_like_torch():
    assert nn.MaxPool1d(3).stride == 3 and nn.AvgPool1d((3,), (2,)).stride == 2
    assert_module_matches_torch(partial(nn.MaxPool1d, 3), torch.nn.MaxPool1d(3), randn(0, 2, 2, 11))


@pytest.mark.parametrize("call, message", [
    (lambda: F.max_pool1d_forward(randn(0, 2, 3, 4, 4)), r"max_pool1d_forward: expected input of shape \(N, C, L\), got \(2, 3, 4, 4\)"),
    (lambda: F.avg_pool1d_forward(randn(0, 2, 3, 2), size=3), r"kernel size 3 is larger than the \(padded\) input size 2"),
    (lambda: nn.MaxPool1d(4)(randn(0, 2, 3, 3)), r"MaxPool1d\(kernel_size=4, stride=4\): input spatial size \(3,\) is smaller than the window 4"),
    (lambda: nn.GlobalAvgPool1d()(randn(0, 2, 3, 3, 3)), r"GlobalAvgPool1d\(\): expected input of shape \(N, C, L\)"),
])
def test_pool1d_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
