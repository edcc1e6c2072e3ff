"""Convolution: the im2col kernel and Conv2d against PyTorch and against a naive loop reference."""
from contextlib import contextmanager
from functools import partial
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.torch_parity import (
    KERNEL_IMPLEMENTATIONS, assert_close, assert_matches_torch, assert_module_matches_torch, is_compiled, kernels_used, randn, seeds,
)

import glassnet.functional as F
from glassnet import kernels, nn
from glassnet.functional._numba import conv as compiled_conv


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


@pytest.mark.parametrize("tile_bytes", [1 << 20, 256])  # whole images per tile, or bands of a few rows
def test_conv_stride2_of_an_even_input_by_phases_matches_torch(monkeypatch, tile_bytes):
    monkeypatch.setattr(compiled_conv, "TILE_BYTES", tile_bytes)
    x, w, b = randn(0, 3, 3, 8, 10), randn(1, 4, 3, 3, 3), randn(2, 4)
    assert compiled_conv._ConvPlan(x.shape, w.shape, (2, 2), (1, 1), (1, 1), 1, 4, 5, np.float64).phases
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


# ------------------------------------------------------------------ compiled twin (functional/_numba/conv.py)
# Cases chosen to reach the compiled code paths; the fixture compiled_kernels runs them on two threads,
# with parallel kernels even on tiny arrays and tiny conv tiles (row bands).
@st.composite
def compiled_conv_cases(draw):
    """Any kernel, stride and padding (padding below the kernel size), and 'same' layers often."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    same = draw(st.booleans())
    ph = (kh - 1) // 2 if same else draw(st.integers(0, kh - 1))
    pw = (kw - 1) // 2 if same else draw(st.integers(0, kw - 1))
    sh, sw = (1, 1) if same else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(
        n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), f=draw(st.integers(1, 4)), kh=kh, kw=kw,
        sh=sh, sw=sw, ph=ph, pw=pw,
        h=draw(st.integers(max(1, kh - 2 * ph), kh + 6)), w=draw(st.integers(max(1, kw - 2 * pw), kw + 6)),
    )


DOUT_LAYOUTS = pytest.mark.parametrize("transposed", [False, True], ids=["dout", "dout-transposed"])
"""Tests of the column tiles' weight gradient run both ways (conv.dout_transposed forced)."""


@contextmanager
def dout_layout(transposed):
    """The weight gradient's products take dout transposed (or as it is) whatever the rule would pick."""
    with mock.patch.object(compiled_conv, "dout_transposed", lambda k, f, cells: transposed):
        yield


@DOUT_LAYOUTS
@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=60, deadline=None)
@given(case=compiled_conv_cases(), seed=seeds)
def test_compiled_conv_matches_torch_any_stride_padding_and_kernel(transposed, case, seed):
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    w, b = randn(seed + 1, case["f"], case["c"], case["kh"], case["kw"]), randn(seed + 2, case["f"])
    stride, pad = (case["sh"], case["sw"]), (case["ph"], case["pw"])
    assert is_compiled(F.conv_forward(x, w, b, stride, pad)[1])
    with dout_layout(transposed):
        assert_matches_torch(partial(F.conv_forward, stride=stride, pad=pad), F.conv_backward,
                             partial(torch.conv2d, stride=stride, padding=pad), x, w, b, seed=seed)


@DOUT_LAYOUTS
@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("k, pad", [(3, 1), (5, 2), (1, 0), (3, 0), (5, 0)])
@pytest.mark.parametrize("tile_bytes", [512, 1 << 14, 1 << 22])
def test_compiled_conv_matches_torch_for_lenet_and_cifar_layer_shapes_and_tile_sizes(monkeypatch, k, pad, tile_bytes,
                                                                                     transposed):
    """Whole-image tiles, several images per tile and bands of rows of one image."""
    monkeypatch.setattr(compiled_conv, "TILE_BYTES", tile_bytes)
    monkeypatch.setattr(compiled_conv, "dout_transposed", lambda k, f, cells: transposed)
    x, w, b = randn(0, 5, 3, 12, 10), randn(1, 4, 3, k, k), randn(2, 4)
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=pad), F.conv_backward,
                         partial(torch.conv2d, stride=1, padding=pad), x, w, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=40, deadline=None)
@given(kh=st.integers(1, 5), kw=st.integers(1, 5), c=st.integers(1, 3), extra=st.integers(0, 5),
       wider=st.integers(0, 35), band=st.integers(1, 6), seed=seeds)
def test_compiled_columns_of_unpadded_stride1_convs_equal_the_references_im2col_and_col2im_exactly(
        dtype, kh, kw, c, extra, wider, band, seed):
    """The fast path for stride 1 without padding (_im2col_valid, _col2im_valid) against the NumPy
    reference's im2col / col2im, on whole images and on bands of output rows, with output rows from
    1 to 36 pixels (shorter and longer than a vector register) and the columns starting as NaN."""
    from glassnet.functional._windows import col2im, im2col

    x = randn(seed, 2, c, kh + extra, kw + wider).astype(dtype)
    ho, wo = extra + 1, wider + 1
    ref = im2col(x, kh, kw, 1, 1)  # (N, C*kh*kw, Ho*Wo)
    dcols = randn(seed + 1, *ref.shape).astype(dtype)
    dx = np.zeros_like(x)
    for i0 in range(0, ho, band):
        i1 = min(ho, i0 + band)
        cols = np.full((2, c * kh * kw + 1, (i1 - i0) * wo), np.nan, dtype)
        compiled_conv._im2col(x, 0, i0, i1, kh, kw, 1, 1, 0, 0, 1, 1, wo, cols)
        np.testing.assert_array_equal(cols[:, :-1], ref[:, :, i0 * wo : i1 * wo])
        np.testing.assert_array_equal(cols[:, -1], 1)
        compiled_conv._col2im(np.ascontiguousarray(dcols[:, :, i0 * wo : i1 * wo]), 0, i0, i1, kh, kw, 1, 1, 0, 0, 1, 1,
                              wo, dx)
    expected = col2im(dcols.reshape(2, c, kh, kw, ho, wo), x.shape, 1, 1)
    if band >= ho:  # one band: every pixel gets its taps in the reference's (b, a) order
        np.testing.assert_array_equal(dx, expected)
    else:
        np.testing.assert_allclose(dx, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=40, deadline=None)
@given(half_h=st.integers(1, 6), half_w=st.integers(1, 20), kh=st.integers(2, 5), kw=st.integers(2, 5),
       c=st.integers(1, 3), band=st.integers(1, 6), seed=seeds, data=st.data())
def test_compiled_columns_of_stride2_convs_by_phases_equal_the_references_im2col_and_col2im(
        dtype, half_h, half_w, kh, kw, c, band, seed, data):
    """Stride 2 over an even input with an output half as wide (_im2col_phases, _col2im_phases)
    against the NumPy reference's im2col / col2im of the zero-padded input, on whole images and on
    bands of output rows, the columns starting as NaN (where the plan picks the phases: the test below)."""
    from glassnet.functional._windows import col2im, im2col

    h, w = 2 * half_h, 2 * half_w
    ph = data.draw(st.integers(0, kh - 1))
    pw = data.draw(st.sampled_from([p for p in range(kw) if (w + 2 * p - kw) // 2 + 1 == half_w]))
    ho, wo = (h + 2 * ph - kh) // 2 + 1, half_w
    assume(ho > 0)
    plan = compiled_conv._ConvPlan((2, c, h, w), (1, c, kh, kw), (2, 2), (ph, pw), (1, 1), 1, ho, wo, dtype)
    assert plan.phases
    x = randn(seed, 2, c, h, w).astype(dtype)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ref = im2col(padded, kh, kw, 2, 2)  # (N, C*kh*kw, Ho*Wo)
    dcols = randn(seed + 1, *ref.shape).astype(dtype)
    dx = np.zeros_like(x)
    for i0 in range(0, ho, band):
        i1 = min(ho, i0 + band)
        buf = np.full(2 * (c * kh * kw + 1) * (i1 - i0) * wo, np.nan, dtype)
        cols = plan.columns(x, buf, 0, 2, i0, i1)
        np.testing.assert_array_equal(cols[:, :-1], ref[:, :, i0 * wo : i1 * wo])
        np.testing.assert_array_equal(cols[:, -1], 1)
        plan.col2im(np.ascontiguousarray(dcols[:, :, i0 * wo : i1 * wo]), 0, i0, i1, dx)
    expected = col2im(dcols.reshape(2, c, kh, kw, ho, wo), padded.shape, 2, 2)[:, :, ph : ph + h, pw : pw + w]
    np.testing.assert_allclose(dx, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_stride2_columns_go_by_phases_only_for_even_inputs_half_as_wide_and_kernels_wider_than_one():
    def phases(x_shape, k, pad, out_hw):
        return compiled_conv._ConvPlan(x_shape, (4, x_shape[1], k, k), (2, 2), (pad, pad), (1, 1), 1, *out_hw,
                                       np.float32).phases

    assert phases((2, 3, 32, 32), 3, 1, (16, 16))    # ResNet's stride-2 3x3 convolutions
    assert not phases((2, 3, 32, 32), 1, 0, (16, 16))  # 1x1: one phase of four is read
    assert not phases((2, 3, 31, 31), 3, 1, (16, 16))  # odd input
    assert not phases((2, 3, 32, 32), 3, 0, (15, 15))  # output narrower than half the input


@pytest.mark.parametrize("kernels", KERNEL_IMPLEMENTATIONS)
@pytest.mark.parametrize("shape, k, pad, groups", [
    ((2, 8, 8, 8), 3, 1, 1),   # compiled: Winograd
    ((2, 3, 9, 7), 3, 0, 1),   # column tiles
    ((2, 4, 6, 6), 3, 1, 2),   # grouped
    ((2, 4, 6, 6), 3, 1, 4),   # depthwise
])
def test_conv_backward_skips_db_when_not_needed_and_keeps_dx_dw(kernels, shape, k, pad, groups):
    x = randn(0, *shape)
    w = randn(1, 8, shape[1] // groups, k, k)
    with kernels_used(kernels):
        out, cache = F.conv_forward(x, w, 0, 1, pad, groups=groups)
        dout = randn(2, *out.shape)
        dx, dw, db = F.conv_backward(dout, cache)
        out, cache = F.conv_forward(x, w, 0, 1, pad, groups=groups)
        dx2, dw2, db2 = F.conv_backward(dout, cache, need_db=False)
    assert db2 is None
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_conv2d_without_bias_does_not_ask_for_db(monkeypatch):
    calls = []
    backward = nn.Conv2d._backward
    monkeypatch.setattr(nn.Conv2d, "_backward", staticmethod(lambda *a, **kw: calls.append(kw) or backward(*a, **kw)))
    for bias in (False, True):
        layer = nn.Conv2d(3, 4, 3, padding=1, bias=bias)
        layer.backward(np.ones(layer.forward(randn(0, 2, 3, 5, 5)).shape))
    assert calls == [{"need_dx": True, "need_db": False}, {"need_dx": True, "need_db": True}]


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_conv_without_bias_takes_the_scalar_zero_like_conv2d_does():
    x, w = randn(0, 2, 3, 6, 6), randn(1, 4, 3, 3, 3)
    out, cache = F.conv_forward(x, w, 0, 1, 1)
    expected = torch.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    assert_close(out, expected, 1e-12, "forward")
    dx, dw, db = F.conv_backward(np.ones_like(out), cache)
    assert db.shape == (4,)
    np.testing.assert_allclose(db, np.full(4, out[:, 0].size), rtol=1e-12)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_conv_with_two_worker_threads_equals_one_thread():
    x, w, b = randn(0, 6, 3, 9, 9), randn(1, 5, 3, 3, 3), randn(2, 5)
    out2, cache2 = F.conv_forward(x, w, b, 1, 1)
    grads2 = F.conv_backward(out2, cache2)
    kernels.set_num_threads(1)
    out1, cache1 = F.conv_forward(x, w, b, 1, 1)
    grads1 = F.conv_backward(out1, cache1)
    np.testing.assert_array_equal(out2, out1)  # each output tile is computed by one product either way
    for g2, g1 in zip(grads2, grads1):
        np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-12)  # dW sums the tiles in another order


@pytest.mark.parametrize("k, f, cells, transposed", [
    (150, 16, 100, True),    # LeNet-5's second layer
    (64, 32, 128, True),     # every bound reached
    (63, 16, 100, False),    # too few column rows: the copy is not repaid
    (150, 33, 100, False),   # too many filters: BLAS packs the transposed dout fast enough
    (150, 16, 257, False),   # F*L over 4096 values
    (27, 32, 1024, False),   # an RGB first layer
])
def test_the_weight_gradient_takes_dout_transposed_for_narrow_dout_and_many_column_rows(k, f, cells, transposed):
    assert compiled_conv.dout_transposed(k, f, cells) is transposed


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_weight_gradient_with_dout_transposed_on_two_threads_equals_one_thread_and_the_other_way(monkeypatch, dtype):
    """LeNet-5's second layer (the rule takes dout transposed there), one image per tile so that both
    threads take parts: dw and db on two threads equal those on one bit for bit, and agree with the
    products that read dout as it is (to rounding)."""
    monkeypatch.setattr(compiled_conv, "TILE_BYTES", 1 << 16)
    x, w, b = randn(0, 9, 6, 14, 14, dtype=dtype), randn(1, 16, 6, 5, 5, dtype=dtype), randn(2, 16, dtype=dtype)
    dout = randn(3, 9, 16, 10, 10, dtype=dtype)
    assert compiled_conv.dout_transposed(6 * 5 * 5, 16, 100)
    grads = {}
    for threads, transposed in ((1, True), (2, True), (1, False)):
        with kernels.using("numba", threads=threads), dout_layout(transposed):
            grads[threads, transposed] = F.conv_backward(dout, F.conv_forward(x, w, b)[1])
    for one, two in zip(grads[1, True], grads[2, True]):
        np.testing.assert_array_equal(one, two)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for new, old in zip(grads[1, True], grads[1, False]):
        np.testing.assert_allclose(new, old, rtol=tol, atol=tol)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_conv_on_the_cifar_shape_with_threads_and_row_bands_matches_torch():
    x = randn(3, 4, 3, 32, 32)
    w, b = randn(4, 8, 3, 3, 3), randn(5, 8)
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=1), F.conv_backward,
                         partial(torch.conv2d, stride=1, padding=1), x, w, b)


# ------------------------------------------------------------------ bad input: errors name the layer and both shapes
def test_conv2d_wrong_rank_names_layer_and_shapes(error_model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d\(3, 4, .*expected input of shape \(N, 3, H, W\), got \(3, 8, 8\)"):
        error_model(np.zeros((3, 8, 8), np.float32))


def test_conv2d_wrong_channel_count_names_layer_and_shapes(error_model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d\(3, 4, .*expected 3 channels.*\(N, 3, H, W\), got shape \(2, 2, 8, 8\)"):
        error_model(np.zeros((2, 2, 8, 8), np.float32))


def test_conv2d_input_smaller_than_kernel_names_layer_and_sizes(error_model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d.*input spatial size \(2, 2\).*smaller than the kernel \(3, 3\)"):
        error_model(np.zeros((2, 3, 2, 2), np.float32))


def test_conv_kernel_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"conv_forward: input has 3 channels but the filters expect 2 \(x \(2, 3, 5, 5\), w \(4, 2, 3, 3\)\)"):
        F.conv_forward(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)), np.zeros(4))


# ------------------------------------------------------------------ dilated and grouped convolutions
@st.composite
def grouped_conv_cases(draw):
    """Dilations, strides and paddings per axis, and groups: ordinary, grouped, and depthwise (one
    input channel per filter, with a channel multiplier) often."""
    depthwise = draw(st.booleans())
    groups = draw(st.integers(1, 4)) if depthwise else draw(st.integers(1, 3))
    cg = 1 if depthwise else draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    return dict(
        n=draw(st.integers(1, 3)), c=groups * cg, f=groups * draw(st.integers(1, 2)), groups=groups, kh=kh, kw=kw,
        sh=draw(st.integers(1, 3)), sw=draw(st.integers(1, 3)), ph=ph, pw=pw, dh=dh, dw=dw,
        h=draw(st.integers(max(1, span_h - 2 * ph), span_h + 5)), w=draw(st.integers(max(1, span_w - 2 * pw), span_w + 5)),
    )


def grouped_conv_inputs(case, seed):
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    w = randn(seed + 1, case["f"], case["c"] // case["groups"], case["kh"], case["kw"])
    return x, w, randn(seed + 2, case["f"])


def grouped_conv_args(case):
    return dict(stride=(case["sh"], case["sw"]), dilation=(case["dh"], case["dw"]), groups=case["groups"])


@settings(max_examples=60, deadline=None)
@given(case=grouped_conv_cases(), seed=seeds)
def test_conv_forward_backward_match_torch_with_dilation_and_groups_including_depthwise(case, seed):
    args, pad = grouped_conv_args(case), (case["ph"], case["pw"])
    assert_matches_torch(partial(F.conv_forward, pad=pad, **args), F.conv_backward,
                         partial(torch.conv2d, padding=pad, **args), *grouped_conv_inputs(case, seed), seed=seed)


@pytest.mark.parametrize("c, multiplier", [(8, 1), (4, 3)])
def test_depthwise_conv_3x3_with_channel_multiplier_matches_torch(c, multiplier):
    x, w, b = randn(0, 3, c, 11, 9), randn(1, c * multiplier, 1, 3, 3), randn(2, c * multiplier)
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=1, groups=c), F.conv_backward,
                         partial(torch.conv2d, stride=1, padding=1, groups=c), x, w, b)


@st.composite
def conv1d_cases(draw):
    groups = draw(st.integers(1, 3))
    k, d, p = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    span = d * (k - 1) + 1
    return dict(n=draw(st.integers(1, 3)), c=groups * draw(st.integers(1, 2)), f=groups * draw(st.integers(1, 2)),
                groups=groups, k=k, s=draw(st.integers(1, 3)), p=p, d=d,
                length=draw(st.integers(max(1, span - 2 * p), span + 8)))


def conv1d_inputs(case, seed):
    x = randn(seed, case["n"], case["c"], case["length"])
    return x, randn(seed + 1, case["f"], case["c"] // case["groups"], case["k"]), randn(seed + 2, case["f"])


@settings(max_examples=50, deadline=None)
@given(case=conv1d_cases(), seed=seeds)
def test_conv1d_forward_backward_match_torch_conv1d(case, seed):
    args = dict(stride=case["s"], dilation=case["d"], groups=case["groups"])
    assert_matches_torch(partial(F.conv1d_forward, pad=case["p"], **args), F.conv1d_backward,
                         partial(torch.conv1d, padding=case["p"], **args), *conv1d_inputs(case, seed), seed=seed)


def test_conv1d_is_conv_forward_on_an_image_of_height_one():
    x, w, b = randn(0, 2, 3, 10), randn(1, 4, 3, 3), randn(2, 4)
    out1, _ = F.conv1d_forward(x, w, b, stride=2, pad=1, dilation=2)
    out2, _ = F.conv_forward(x[:, :, None, :], w[:, :, None, :], b, (1, 2), (0, 1), (1, 2))
    np.testing.assert_array_equal(out1, out2[:, :, 0, :])


@settings(max_examples=25, deadline=None)
@given(case=grouped_conv_cases(), bias=st.booleans(), seed=seeds)
def test_conv2d_module_with_dilation_and_groups_matches_torch_conv2d(case, bias, seed):
    args = (case["c"], case["f"], (case["kh"], case["kw"]))
    kwargs = dict(padding=(case["ph"], case["pw"]), bias=bias, **grouped_conv_args(case))
    make = partial(nn.Conv2d, *args, **kwargs, rng=np.random.default_rng(seed))
    x = grouped_conv_inputs(case, seed)[0]
    assert_module_matches_torch(make, torch.nn.Conv2d(*args, **kwargs), x, seed=seed)


@settings(max_examples=25, deadline=None)
@given(case=conv1d_cases(), bias=st.booleans(), seed=seeds)
def test_conv1d_module_matches_torch_conv1d(case, bias, seed):
    args = (case["c"], case["f"], case["k"])
    kwargs = dict(stride=case["s"], padding=case["p"], dilation=case["d"], groups=case["groups"], bias=bias)
    make = partial(nn.Conv1d, *args, **kwargs, rng=np.random.default_rng(seed))
    x = conv1d_inputs(case, seed)[0]
    assert_module_matches_torch(make, torch.nn.Conv1d(*args, **kwargs), x, x[::-1].copy(), seed=seed)


def test_grouped_conv_modules_initialise_like_torch_bounds_from_the_group_fan_in():
    conv = nn.Conv2d(8, 4, 3, groups=4, rng=np.random.default_rng(0))
    assert conv.weight.shape == (4, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 9)  # fan_in = in_channels / groups * kh * kw, as PyTorch's default
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.8 * bound
    assert nn.Conv1d(3, 6, 5, groups=3).weight.shape == (6, 1, 5)


# ------------------------------------------------------------------ compiled twin: dilated, grouped, depthwise, 1-D
@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=50, deadline=None)
@given(case=grouped_conv_cases(), seed=seeds)
def test_compiled_conv_matches_torch_with_dilation_and_groups_including_depthwise(case, seed):
    args, pad = grouped_conv_args(case), (case["ph"], case["pw"])
    x, w, b = grouped_conv_inputs(case, seed)
    assert is_compiled(F.conv_forward(x, w, b, pad=pad, **args)[1])
    assert_matches_torch(partial(F.conv_forward, pad=pad, **args), F.conv_backward,
                         partial(torch.conv2d, padding=pad, **args), x, w, b, seed=seed)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_depthwise_conv_takes_the_direct_kernel_not_per_channel_products():
    x, w, b = randn(0, 3, 6, 10, 10), randn(1, 12, 1, 3, 3), randn(2, 12)
    _, cache = F.conv_forward(x, w, b, 1, 1, groups=6)
    assert isinstance(cache[4], compiled_conv._DepthwisePlan)
    assert_matches_torch(partial(F.conv_forward, stride=2, pad=2, dilation=2, groups=6), F.conv_backward,
                         partial(torch.conv2d, stride=2, padding=2, dilation=2, groups=6), x, w, b)


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_conv1d_with_groups_and_dilation_matches_torch():
    x, w, b = randn(0, 4, 6, 50), randn(1, 9, 2, 5), randn(2, 9)
    assert_matches_torch(partial(F.conv1d_forward, stride=2, pad=4, dilation=2, groups=3), F.conv1d_backward,
                         partial(torch.conv1d, stride=2, padding=4, dilation=2, groups=3), x, w, b)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, message", [
    (lambda: F.conv_forward(randn(0, 1, 6, 5, 5), randn(1, 4, 2, 3, 3), 0, groups=4),
     r"groups=4 must divide both the input channels \(6\) and the filters \(4\) \(x \(1, 6, 5, 5\), w \(4, 2, 3, 3\)\)"),
    (lambda: F.conv_forward(randn(0, 1, 6, 5, 5), randn(1, 4, 2, 3, 3), 0, groups=2),
     r"input has 6 channels, so with groups=2 the filters need 3 input channels each, but w has 2"),
    (lambda: F.conv_forward(randn(0, 1, 2, 5, 5), randn(1, 2, 2, 3, 3), 0, dilation=3),
     r"dilated kernel \(size 3, dilation 3: spans 7\) is larger than the \(padded\) input size 5"),
    (lambda: F.conv_forward(randn(0, 1, 2, 5, 5), randn(1, 2, 2, 3, 3), 0, dilation=0), "dilation must be >= 1, got 0"),
    (lambda: F.conv_forward(randn(0, 1, 2, 5, 5), randn(1, 2, 2, 3, 3), 0, groups=0), "groups must be a positive integer"),
    (lambda: F.conv1d_forward(randn(0, 1, 2, 5, 5), randn(1, 2, 2, 3), 0), r"conv1d_forward: expected input of shape \(N, C, L\)"),
    (lambda: F.conv1d_forward(randn(0, 1, 2, 5), randn(1, 2, 2, 3, 3), 0), r"expected weight of shape \(F, C/groups, K\)"),
    (lambda: F.conv1d_forward(randn(0, 1, 2, 5), randn(1, 2, 2, 3), 0, stride=(1, 2)), "stride must be an int or a 1-tuple"),
    (lambda: nn.Conv2d(6, 4, 3, groups=4), r"Conv2d: groups=4 must be a positive divisor of both in_channels \(6\) and out_channels \(4\)"),
    (lambda: nn.Conv1d(2, 4, 3, dilation=3, rng=np.random.default_rng(0))(randn(0, 1, 2, 6)),
     r"Conv1d\(2, 4, kernel_size=3, stride=1, dilation=3\): input spatial size \(6,\) \(padded by 0\) is smaller than the "
     r"kernel 3 dilated by 3 \(spans \(7,\)\)"),
    (lambda: nn.Conv1d(2, 4, 3)(randn(0, 1, 2, 6, 6)), r"Conv1d\(2, 4.*expected input of shape \(N, 2, L\), got \(1, 2, 6, 6\)"),
    (lambda: nn.Conv2d(4, 4, 3, groups=2)(randn(0, 1, 2, 6, 6)), r"expected 4 channels/features at axis 1"),
])
def test_conv_bad_input_gets_a_clear_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
