"""Winograd F(2x2, 3x3) in the compiled convolution and the inference plan: the same results as
PyTorch (forward, dx, dw, db), as central differences and as the layer-by-layer forward, whatever
the thread count and in both layouts of the transformed inputs (channels first or last)."""
from contextlib import contextmanager
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_matches_torch, randn, seeds

import glassnet.functional as F
from glassnet import backend, kernels, nn
from glassnet.diagnostics import check_function
from glassnet.functional._numba import winograd
from glassnet.inference import InferencePlan


@contextmanager
def layout(last):
    """Every Winograd convolution and filter gradient in the block transforms its inputs channels
    last (``last``) or channels first, whatever its shape (``winograd.channels_last`` and
    ``winograd.filter_gradient_channels_last`` replaced)."""
    names = ("channels_last", "filter_gradient_channels_last")
    saved = [getattr(winograd, name) for name in names]
    for name in names:
        setattr(winograd, name, lambda wo, c: last)
    try:
        yield
    finally:
        for name, rule in zip(names, saved):
            setattr(winograd, name, rule)


LAYOUTS = pytest.mark.parametrize("last", [False, True], ids=["channels_first", "channels_last"])


def ran_winograd(cache):
    """The compiled forward took the Winograd path (its cache keeps the (F, C, 3, 3) weights)."""
    return cache[2].ndim == 4


@st.composite
def winograd_cases(draw):
    """3x3 stride-1 convolutions Winograd computes: >= MIN_CHANNELS inputs, even output sizes of at
    least MIN_PIXELS, any padding up to 2 per side; filters below MIN_CHANNELS too (dx then by the
    column tiles)."""
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    ho = 2 * draw(st.integers(2, 8))
    least = -(-winograd.MIN_PIXELS // (2 * ho))  # half the narrowest width with Ho*Wo >= MIN_PIXELS
    wo = 2 * draw(st.integers(least, max(least, 6)))
    return dict(n=draw(st.integers(1, 6)), c=draw(st.integers(winograd.MIN_CHANNELS, 12)), f=draw(st.integers(1, 12)),
                ph=ph, pw=pw, h=ho + 2 - 2 * ph, w=wo + 2 - 2 * pw)


@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=40, deadline=None)
@given(case=winograd_cases(), seed=seeds, last=st.booleans())
def test_winograd_conv_matches_torch_forward_dx_dw_db(case, seed, last):
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    w, b = randn(seed + 1, case["f"], case["c"], 3, 3), randn(seed + 2, case["f"])
    pad = (case["ph"], case["pw"])
    with layout(last):
        assert ran_winograd(F.conv_forward(x, w, b, 1, pad)[1])
        assert_matches_torch(partial(F.conv_forward, stride=1, pad=pad), F.conv_backward,
                             partial(torch.conv2d, stride=1, padding=pad), x, w, b, seed=seed)


@pytest.mark.parametrize("wo, c, last", [
    (winograd.CONV_LAST_BELOW - 2, winograd.LAST_MIN_CHANNELS, True),
    (8, 64, True),
    (winograd.CONV_LAST_BELOW, 16, False),                # wide enough for the rows of tiles
    (8, winograd.LAST_MIN_CHANNELS - 1, False),           # too few channels for a vector
    (8, winograd.LAST_MAX_ROW // 8 + 1, False),           # a row of the image too long to transpose
])
def test_a_convolution_goes_channels_last_on_narrow_outputs_with_enough_channels(wo, c, last):
    assert winograd.channels_last(wo, c) is last
    flag, xp, s, *_ = winograd.scratch(c, 4, 8, wo, 2, np.float32, last)
    assert flag is last
    assert (xp.shape, s.shape) == (((10, wo + 2, c), (4, (wo + 2) * c)) if last else ((c, 10, wo + 2), (4, wo + 2)))


@pytest.mark.parametrize("wo, c, last", [
    (16, 16, True), (32, 32, True), (8, 128, True),       # more channels than tiles in a row
    (32, 16, False),                                      # as many: no longer loop, and the transposing copy
    (16, winograd.LAST_MIN_CHANNELS - 1, False),          # too few channels for a vector
    (32, 64, False), (16, 128, False),                    # a row of the image too long to transpose
])
def test_a_filter_gradient_goes_channels_last_where_the_channels_outnumber_a_rows_tiles(wo, c, last):
    assert winograd.filter_gradient_channels_last(wo, c) is last


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pad", [0, 1, 2])
def test_both_layouts_give_the_same_output_and_dx_bit_for_bit_and_the_same_dw(dtype, pad):
    """The transforms compute the same sums either way and the products the same dot products; the
    filter gradient's products are BLAS's other orientation (rounding may differ)."""
    x, w, b = randn(0, 7, 9, 12 - 2 * pad, 10 - 2 * pad, dtype=dtype), randn(1, 5, 9, 3, 3, dtype=dtype), randn(2, 5, dtype=dtype)
    dout = randn(3, 7, 5, 10, 8, dtype=dtype)
    results = []
    for last in (False, True):
        with layout(last), kernels.using("numba", threads=1):
            out, cache = F.conv_forward(x, w, b, 1, pad)
            assert ran_winograd(cache)
            results.append((out, *F.conv_backward(dout, cache)))
    (out0, dx0, dw0, db0), (out1, dx1, dw1, db1) = results
    np.testing.assert_array_equal(out0, out1)
    np.testing.assert_array_equal(dx0, dx1)
    np.testing.assert_array_equal(db0, db1)
    np.testing.assert_allclose(dw0, dw1, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("c, h, kernel, stride, pad", [
    (winograd.MIN_CHANNELS - 1, 8, 3, 1, 1),  # too few input channels
    (8, 7, 3, 1, 1),                          # odd output size
    (8, 6, 3, 1, 1),                          # fewer than MIN_PIXELS outputs
    (8, 8, 5, 1, 2),                          # not 3x3
    (8, 8, 3, 2, 1),                          # strided
])
def test_convolutions_winograd_does_not_compute_run_on_the_column_tiles_and_match_torch(c, h, kernel, stride, pad):
    x, w, b = randn(0, 3, c, h, h), randn(1, 9, c, kernel, kernel), randn(2, 9)
    assert not ran_winograd(F.conv_forward(x, w, b, stride, pad)[1])
    assert_matches_torch(partial(F.conv_forward, stride=stride, pad=pad), F.conv_backward,
                         partial(torch.conv2d, stride=stride, padding=pad), x, w, b)


@LAYOUTS
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_winograd_conv_on_two_threads_equals_one_thread_bit_for_bit(dtype, last):
    x, w, b = randn(0, 13, 8, 8, 8, dtype=dtype), randn(1, 9, 8, 3, 3, dtype=dtype), randn(2, 9, dtype=dtype)
    dout = randn(3, 13, 9, 8, 8, dtype=dtype)
    results = []
    for threads in (1, 2):
        with layout(last), kernels.using("numba", threads=threads):
            out, cache = F.conv_forward(x, w, b, 1, 1)
            assert ran_winograd(cache)
            results.append((out, *F.conv_backward(dout, cache)))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@LAYOUTS
def test_winograd_filter_gradient_groups_small_images_and_ends_with_a_partial_group(last):
    """8x8 images go four to a product; a batch of 6 leaves a group of two."""
    assert winograd.group_size(8, 8) == 4
    x, w, b = randn(0, 6, 8, 8, 8), randn(1, 8, 8, 3, 3), randn(2, 8)
    with layout(last), kernels.using("numba", threads=1):
        out, cache = F.conv_forward(x, w, b, 1, 1)
        dx, dw, db = F.conv_backward(randn(3, 6, 8, 8, 8), cache)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = torch.conv2d(xt, wt, torch.tensor(b), padding=1)
    yt.backward(torch.tensor(randn(3, 6, 8, 8, 8)))
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-12, atol=1e-11)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    with kernels.using("numba", threads=request.param):
        yield request.param


@LAYOUTS
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 1e-5)])
def test_plan_runs_winograd_convs_with_fused_and_separate_pooling_and_equals_the_layer_by_layer_forward(dtype, tol,
                                                                                                         threads, last):
    backend.set_default_dtype(dtype)
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, rng=rng), nn.ReLU(),                                      # 3 inputs: columns
        nn.Conv2d(8, 12, 3, padding=1, rng=rng), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),  # pool in the transform
        nn.Conv2d(12, 10, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(3, stride=1),           # pool afterwards
        nn.Conv2d(10, 8, 3, padding=2, rng=rng),                                                 # padding 2
        nn.Flatten(), nn.Linear(8 * 8 * 8, 5, rng=rng))
    bn = model[3]
    bn.running_mean[...] = rng.standard_normal(12).astype(dtype)
    bn.running_var[...] = rng.uniform(0.5, 2.0, 12).astype(dtype)
    x = rng.standard_normal((5, 3, 16, 16)).astype(dtype)
    plan = InferencePlan(model)
    with layout(last):
        program = plan.program(x.shape)
    assert [getattr(step, "winograd", None) for step in program.steps[:4]] == [False, True, True, True]
    assert [step.scratch[0][0][0] for step in program.steps[1:4]] == [last] * 3  # (buffers, y): the layout flag first
    model.eval()
    with model.no_grad():
        expected = model(x)
    got = plan(x)
    assert np.max(np.abs(got - expected)) <= tol * max(1.0, np.max(np.abs(expected)))
    assert "(winograd)" in program.steps[1].describe()


def test_winograd_backward_uses_the_weights_of_its_forward_even_if_they_change_in_place():
    x, w, b, dout = randn(0, 2, 8, 8, 8), randn(1, 8, 8, 3, 3), randn(2, 8), randn(3, 2, 8, 8, 8)
    with kernels.using("numba", threads=1):
        expected = F.conv_backward(dout, F.conv_forward(x, w, b, 1, 1)[1])
        cache = F.conv_forward(x, w, b, 1, 1)[1]
        w[...] = 0  # e.g. an optimizer step between forward and backward
        got = F.conv_backward(dout, cache)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)


@pytest.mark.usefixtures("compiled_kernels")
def test_winograd_forward_with_padding_3_takes_dx_from_the_column_tiles_and_matches_torch():
    """dx of a padding above 2 is not a convolution Winograd computes (it would need negative padding)."""
    x, w, b = randn(0, 2, 8, 8, 8), randn(1, 8, 8, 3, 3), randn(2, 8)
    assert ran_winograd(F.conv_forward(x, w, b, 1, 3)[1])
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=3), F.conv_backward,
                         partial(torch.conv2d, stride=1, padding=3), x, w, b)


@LAYOUTS
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_winograd_sends_a_non_finite_input_to_the_outputs_the_direct_sum_sends_it_to(value, last):
    """NaN: the same NaN outputs as PyTorch. inf: the same non-finite outputs, each the direct sum's
    +-inf or NaN (the transforms subtract it from itself); every other output finite and equal."""
    w, b = randn(1, 4, 8, 3, 3), randn(2, 4)
    for r, c in [(0, 0), (3, 4), (7, 1), (5, 7)]:
        x = randn(0, 1, 8, 8, 8)
        x[0, 3, r, c] = value
        with layout(last), kernels.using("numba", threads=1):
            out, cache = F.conv_forward(x, w, b, 1, 1)
        assert ran_winograd(cache)
        expected = torch.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=1).numpy()
        np.testing.assert_array_equal(~np.isfinite(out), ~np.isfinite(expected))
        infinite = np.isinf(out)
        np.testing.assert_array_equal(out[infinite], expected[infinite])
        if np.isnan(value):
            assert np.isnan(out[~np.isfinite(out)]).all()
        np.testing.assert_allclose(out[np.isfinite(out)], expected[np.isfinite(expected)], rtol=1e-12, atol=1e-12)


@LAYOUTS
def test_winograd_conv_gradients_match_central_differences(last):
    inputs = [randn(0, 1, 8, 8, 8), randn(1, 8, 8, 3, 3), randn(2, 8)]
    with layout(last), kernels.using("numba", threads=1):
        assert ran_winograd(F.conv_forward(*inputs, 1, 1)[1])
        result = check_function(partial(F.conv_forward, stride=1, pad=1), F.conv_backward, inputs, name="winograd conv")
    assert result.passed(1e-7), result.errors


G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("f, c", [(1, 1), (5, 3), (64, 64)])
def test_filter_transforms_equal_the_matrix_products_of_their_definition(f, c):
    """U = G w G^T per filter (float64, rounded once: bit for bit in float32) and dw = G^T dU G."""
    rng = np.random.default_rng(f * 100 + c)
    w = (rng.standard_normal((f, c, 3, 3)) * rng.choice([1e-3, 1.0, 1e3], size=(f, c, 1, 1))).astype(np.float32)
    expected = np.einsum("ia,fcab,jb->ijfc", G, w.astype(np.float64), G).reshape(16, f, c)
    np.testing.assert_array_equal(winograd.transform_filters(w, np.float32), expected.astype(np.float32))
    np.testing.assert_allclose(winograd.transform_filters(w.astype(np.float64), np.float64), expected, rtol=1e-15)
    np.testing.assert_array_equal(winograd.transform_filters(w, np.float32, last=True),
                                  expected.transpose(0, 2, 1).astype(np.float32))
    du = rng.standard_normal((16, f, c))
    dw = winograd.filter_gradient(du)
    assert dw.shape == (f, c, 3, 3) and dw.dtype == np.float64
    np.testing.assert_allclose(dw, np.einsum("ia,ijfc,jb->fcab", G, du.reshape(4, 4, f, c), G), rtol=1e-14, atol=1e-15)
