"""Convolutions by kernel rows (functional/_numba/kernel_rows.py): the rule, the forward against
PyTorch (the backward, by the columns, from the same cache) and the inference plan's pooled step
against the layer-by-layer forward, on any padding and kernel shape."""
from contextlib import contextmanager
from functools import partial
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_matches_torch, randn, seeds

import glassnet.functional as F
from glassnet import backend, kernels, nn
from glassnet.functional._numba import conv as compiled_conv
from glassnet.functional._numba import kernel_rows
from glassnet.inference import InferencePlan


@contextmanager
def by_kernel_rows(forced=None):
    """Stride-1 convolutions go by kernel rows (True) or by the columns (False) whatever the cost rule
    says, or as the rule says (None); yields a mock that counts the forwards by kernel rows."""
    rule = kernel_rows.pays if forced is None else (lambda *shape: forced)
    with mock.patch.object(kernel_rows, "pays", rule), \
            mock.patch.object(compiled_conv, "_kernel_rows_forward", wraps=compiled_conv._kernel_rows_forward) as spy:
        yield spy


@pytest.mark.parametrize("x_shape, w_shape, pad", [
    ((64, 6, 14, 14), (16, 6, 5, 5), 0),      # LeNet-5's second layer
    ((64, 4, 14, 14), (8, 4, 5, 5), 0),
    ((64, 6, 14, 14), (16, 6, 3, 3), 0),
    ((64, 8, 12, 12), (16, 8, 5, 5), 0),      # F*(Wp - Wo) = 8*Wo: the bound itself
    ((64, 16, 16, 16), (32, 16, 5, 5), 2),
])
def test_kernel_rows_take_the_measured_winners(x_shape, w_shape, pad):
    assert kernel_rows.applies(x_shape, w_shape, 1, pad, 1, 1, 4)


@pytest.mark.parametrize("x_shape, w_shape, pad", [
    ((64, 3, 32, 32), (32, 3, 5, 5), 0),      # C*kh = 15: an RGB first layer
    ((64, 1, 28, 28), (6, 1, 5, 5), 2),       # LeNet-5's first layer
    ((64, 16, 12, 12), (32, 16, 5, 5), 0),    # F*(Wp - Wo) = 16*Wo: the extra columns cost more than the gather saves
    ((64, 32, 16, 16), (64, 32, 5, 5), 2),
    ((64, 16, 1, 1023), (32, 16, 1, 7), (0, 3)),  # signals: one kernel row
    ((8, 3, 224, 224), (64, 3, 7, 7), 3),     # one image's product 92 MB, over MAX_BYTES: the column tiles bound it
])
def test_kernel_rows_leave_the_measured_losers_and_large_images_to_the_columns(x_shape, w_shape, pad):
    assert not kernel_rows.applies(x_shape, w_shape, 1, pad, 1, 1, 4)


def test_kernel_rows_bound_one_images_product_in_bytes_not_values():
    x_shape, w_shape = (2, 6, 120, 120), (16, 6, 5, 5)  # O: 80 x 116*120 values, 4.2 MiB in float32
    assert kernel_rows.applies(x_shape, w_shape, 1, 0, 1, 1, 4)
    assert not kernel_rows.applies(x_shape, w_shape, 1, 0, 1, 1, 8)


@pytest.mark.parametrize("stride, dilation, groups", [((1, 2), 1, 1), (2, 1, 1), (1, (2, 1), 1), (1, 1, 2)])
def test_kernel_rows_need_stride_1_no_dilation_and_one_group(stride, dilation, groups):
    x_shape, w_shape = (64, 6, 14, 14), (16, 6, 5, 5)
    assert kernel_rows.applies(x_shape, w_shape, 1, 0, 1, 1, 4)
    assert not kernel_rows.applies(x_shape, w_shape, stride, 0, dilation, groups, 4)


@st.composite
def stride1_cases(draw):
    """Any kernel up to 5x5, any padding below the kernel size on each axis, inputs from the kernel's size up."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 4)), f=draw(st.integers(1, 5)), kh=kh, kw=kw,
                ph=ph, pw=pw, h=draw(st.integers(max(1, kh - 2 * ph), kh + 6)),
                w=draw(st.integers(max(1, kw - 2 * pw), kw + 6)))


@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=60, deadline=None)
@given(case=stride1_cases(), seed=seeds)
def test_compiled_conv_by_kernel_rows_matches_torch_any_padding_and_kernel(case, seed):
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    w, b = randn(seed + 1, case["f"], case["c"], case["kh"], case["kw"]), randn(seed + 2, case["f"])
    pad = (case["ph"], case["pw"])
    with by_kernel_rows(True) as spy:
        assert_matches_torch(partial(F.conv_forward, stride=1, pad=pad), F.conv_backward,
                             partial(torch.conv2d, stride=1, padding=pad), x, w, b, seed=seed)
    assert spy.called  # (Winograd, which would come first, needs 8 channels or more)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lenet5_second_layer_goes_by_kernel_rows_alike_on_one_and_two_threads_and_equals_the_columns(dtype):
    """The rule takes LeNet-5's second layer; two threads give the outputs of one bit for bit (each
    image is computed by one thread), and the columns give them to rounding."""
    x, w, b = randn(0, 9, 6, 14, 14, dtype=dtype), randn(1, 16, 6, 5, 5, dtype=dtype), randn(2, 16, dtype=dtype)
    outs = {}
    for threads, forced in ((1, True), (2, True), (1, False)):
        with kernels.using("numba", threads=threads), by_kernel_rows(forced) as spy:
            outs[threads, forced] = F.conv_forward(x, w, b)[0]
        assert spy.called is forced
    with kernels.using("numba"), by_kernel_rows() as spy:
        F.conv_forward(x, w, b)
    assert spy.called
    np.testing.assert_array_equal(outs[1, True], outs[2, True])
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(outs[1, True], outs[1, False], rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(case=stride1_cases(), relu=st.booleans(), seed=seeds)
def test_plan_step_by_kernel_rows_equals_conv_relu_pool_layer_by_layer_any_padding_and_kernel(case, relu, seed):
    """The plan's pooled step (the 2x2 pool taken from the shifted sums, the bias after the maximum),
    forced onto kernel rows, against the layer-by-layer forward; odd outputs leave their last row and
    column unpooled."""
    backend.set_default_dtype(np.float64)
    ho, wo = case["h"] + 2 * case["ph"] - case["kh"] + 1, case["w"] + 2 * case["pw"] - case["kw"] + 1
    assume(ho >= 2 and wo >= 2)
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Conv2d(case["c"], case["f"], (case["kh"], case["kw"]), padding=(case["ph"], case["pw"]),
                                    rng=rng),
                          *([nn.ReLU()] if relu else []), nn.MaxPool2d(2)).eval()
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    with kernels.using("numba", threads=2), by_kernel_rows(True):
        plan = InferencePlan(model)
        step = plan.program(x.shape).steps[0]
        assert step.describe().endswith("(kernel rows)")
        out = plan(x)
    with model.no_grad():
        ref = model(x)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
