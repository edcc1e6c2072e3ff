"""Convolution: the im2col kernel and Conv2d against PyTorch and against a naive loop reference."""
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import KERNEL_IMPLEMENTATIONS, assert_matches_torch, assert_module_matches_torch, kernels_used, randn, seeds

import glassnet.functional as F
from glassnet import nn


@st.composite
def conv_cases(draw):
    """Rectangular inputs and kernels, separate vertical/horizontal strides and paddings."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    return dict(
        n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), f=draw(st.integers(1, 4)), kh=kh, kw=kw,
        sh=draw(st.integers(1, 3)), sw=draw(st.integers(1, 3)), ph=ph, pw=pw,
        h=draw(st.integers(max(1, kh - 2 * ph), kh + 6)), w=draw(st.integers(max(1, kw - 2 * pw), kw + 6)),
    )


def conv_inputs(case, seed):
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    w = randn(seed + 1, case["f"], case["c"], case["kh"], case["kw"])
    return x, w, randn(seed + 2, case["f"])


# ------------------------------------------------------------------ naive loop reference (tests only)
def conv_forward_loops(x, w, b, stride, pad):
    """out[n, f, i, j] = b[f] + sum_{c,a,b'} w[f, c, a, b'] * xpad[n, c, i*sh + a, j*sw + b'], by loops."""
    (sh, sw), (ph, pw) = stride, pad
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph : ph + h, pw : pw + wd] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, ho, wo))
    for i_n in range(n):
        for i_f in range(f):
            for i in range(ho):
                for j in range(wo):
                    window = xpad[i_n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    out[i_n, i_f, i, j] = np.sum(window * w[i_f]) + b[i_f]
    return out


def conv_backward_loops(dout, x, w, stride, pad):
    """dx, dw, db by accumulating each output's gradient onto its window, one position at a time."""
    (sh, sw), (ph, pw) = stride, pad
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph : ph + h, pw : pw + wd] = x
    dxpad, dw = np.zeros_like(xpad), np.zeros_like(w)
    db = np.zeros(f)
    for i_n in range(n):
        for i_f in range(f):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    g = dout[i_n, i_f, i, j]
                    db[i_f] += g
                    dw[i_f] += g * xpad[i_n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    dxpad[i_n, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += g * w[i_f]
    return dxpad[:, :, ph : ph + h, pw : pw + wd], dw, db


# ------------------------------------------------------------------ kernel
@settings(max_examples=50, deadline=None)
@given(case=conv_cases(), seed=seeds)
def test_conv_forward_backward_match_torch_rectangular_strides_and_paddings(case, seed):
    stride, pad = (case["sh"], case["sw"]), (case["ph"], case["pw"])
    assert_matches_torch(
        partial(F.conv_forward, stride=stride, pad=pad), F.conv_backward,
        partial(torch.conv2d, stride=stride, padding=pad), *conv_inputs(case, seed), seed=seed,
    )


def test_conv_backward_matches_torch_stride2_pad1():
    x, w, b = randn(0, 2, 3, 7, 6), randn(1, 4, 3, 3, 3), randn(2, 4)
    assert_matches_torch(partial(F.conv_forward, stride=2, pad=1), F.conv_backward, partial(torch.conv2d, stride=2, padding=1), x, w, b)


def test_conv_without_bias_matches_torch_with_zero_bias_gradient_shape():
    x, w = randn(0, 2, 2, 5, 5), randn(1, 3, 2, 2, 2)
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=0), F.conv_backward, torch.conv2d, x, w, np.zeros(3))


@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
@settings(max_examples=50, deadline=None)
@given(case=conv_cases(), seed=seeds)
def test_conv_kernel_equals_naive_loop_reference_forward_and_backward(kernels, case, seed):
    stride, pad = (case["sh"], case["sw"]), (case["ph"], case["pw"])
    x, w, b = conv_inputs(case, seed)
    with kernels_used(kernels):
        out, cache = F.conv_forward(x, w, b, stride, pad)
        dout = randn(seed + 3, *out.shape)
        grads = F.conv_backward(dout, cache)
    np.testing.assert_allclose(out, conv_forward_loops(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)
    for got, expected in zip(grads, conv_backward_loops(dout, x, w, stride, pad)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


UNEQUAL_PADDING = {  # (kernel, stride, pad): vertical and horizontal padding differ, general column builder
    "k3-pad2x0": ((3, 3), (1, 1), (2, 0)),
    "k3-pad1x0": ((3, 3), (1, 1), (1, 0)),
    "k3x5-stride2x1-pad1x2": ((3, 5), (2, 1), (1, 2)),
    "k2x4-stride1x2-pad0x3": ((2, 4), (1, 2), (0, 3)),
}


@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
@pytest.mark.parametrize("case", list(UNEQUAL_PADDING))
def test_conv_with_unequal_vertical_and_horizontal_padding_matches_the_loops_under_each_implementation(kernels, case):
    """Fixed examples (a random draw found an index slip here only by chance)."""
    (kh, kw), stride, pad = UNEQUAL_PADDING[case]
    x, w, b = randn(0, 2, 3, 7, 6), randn(1, 4, 3, kh, kw), randn(2, 4)
    with kernels_used(kernels):
        out, cache = F.conv_forward(x, w, b, stride, pad)
        dout = randn(3, *out.shape)
        grads = F.conv_backward(dout, cache)
    if kernels == "numba":
        assert not cache[4].same  # the general (row by row) column builder
    np.testing.assert_allclose(out, conv_forward_loops(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)
    for got, expected in zip(grads, conv_backward_loops(dout, x, w, stride, pad)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert_matches_torch(partial(F.conv_forward, stride=stride, pad=pad), F.conv_backward,
                         partial(torch.conv2d, stride=stride, padding=pad), x, w, b)


def test_conv_is_cross_correlation_not_flipped():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0  # picks the top-left pixel of each window
    out, _ = F.conv_forward(x, w, np.zeros(1))
    np.testing.assert_array_equal(out[0, 0], [[0.0, 1.0], [3.0, 4.0]])


# ------------------------------------------------------------------ module
@settings(max_examples=50, deadline=None)
@given(case=conv_cases(), bias=st.booleans(), seed=seeds)
def test_conv2d_module_forward_backward_match_torch_conv2d(case, bias, seed):
    args = (case["c"], case["f"], (case["kh"], case["kw"]))
    kwargs = dict(stride=(case["sh"], case["sw"]), padding=(case["ph"], case["pw"]), bias=bias)
    make = partial(nn.Conv2d, *args, **kwargs, rng=np.random.default_rng(seed))
    x = conv_inputs(case, seed)[0]
    assert_module_matches_torch(make, torch.nn.Conv2d(*args, **kwargs), x, x[::-1].copy(), seed=seed)


def test_conv2d_module_with_int_arguments_matches_torch():
    make = partial(nn.Conv2d, 3, 5, 3, stride=2, padding=1, rng=np.random.default_rng(0))
    assert_module_matches_torch(make, torch.nn.Conv2d(3, 5, 3, stride=2, padding=1), randn(0, 2, 3, 9, 8))
