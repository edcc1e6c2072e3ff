"""Winograd F(2, r) for 1-D convolutions (r = 3, 5, 7) in the compiled convolution: its matrices are
exact, its written-out transforms are those matrices, and the convolution gives PyTorch's output,
dx and dw, central differences, the same bits on one or two threads and non-finite values where the
direct sum puts them."""
from contextlib import contextmanager
from fractions import Fraction
from functools import partial
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_matches_torch, randn, seeds

import glassnet.functional as F
from glassnet import kernels
from glassnet.diagnostics import check_function
from glassnet.functional._numba import winograd, winograd1d

R = sorted(winograd1d.TABLES)


def ran_winograd(cache):
    """The compiled forward took a Winograd path (its cache keeps the (F, C, 1, r) weights)."""
    return cache[2].ndim == 4


LAYOUTS = pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
"""Tests of the filter gradient run in both of its layouts (winograd1d.filter_gradient_channels_last)."""


@contextmanager
def filter_gradient_layout(last):
    """The filter gradient transforms channels last (or first) whatever the rule would pick."""
    with mock.patch.object(winograd1d, "filter_gradient_channels_last", lambda wo, c: last):
        yield


@pytest.mark.parametrize("r", R)
def test_the_matrices_compute_the_correlation_exactly(r):
    """A^T[(G g) * (B^T d)] = (sum_k g[k] d[i + k])_{i=0,1} for every d and g: as a bilinear form,
    sum_j A^T[i, j] G[j, k] B^T[j, a] = 1 if a = i + k else 0, in rational arithmetic."""
    bt, g, at = winograd1d.fractions(r)
    n = r + 1
    assert (len(bt), len(bt[0]), len(g), len(g[0]), len(at), len(at[0])) == (n, n, n, r, 2, n)
    for i in range(2):
        for k in range(r):
            for a in range(n):
                total = sum((at[i][j] * g[j][k] * bt[j][a] for j in range(n)), Fraction(0))
                assert total == (1 if a == i + k else 0), (r, i, k, a)


@pytest.mark.parametrize("r", R)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_written_out_transforms_are_the_matrices(r, dtype):
    rng = np.random.default_rng(r)
    bt, _, at = winograd1d.MATRICES[r]
    c, f, tiles = 3, 2, 5
    q = winograd1d.constants(dtype)
    xe, xo, v, m, z = winograd1d.scratch(c, f, 2 * tiles, r, dtype)
    xe[...] = rng.standard_normal(xe.shape)
    xo[...] = rng.standard_normal(xo.shape)
    winograd1d._input_transform(xe, xo, r, q, v, tiles)
    samples = np.empty((c, 2 * tiles + r), np.float64)  # the padded signal, interleaved back
    samples[:, 0::2], samples[:, 1::2] = xe[:, : tiles + (r + 1) // 2], xo[:, : tiles + r // 2]
    windows = np.stack([samples[:, 2 * t : 2 * t + r + 1] for t in range(tiles)], axis=1)  # (C, T, n)
    tol = 1e-14 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(v[: r + 1, : c * tiles].reshape(r + 1, c, tiles), np.einsum("ek,ctk->ect", bt, windows),
                               rtol=tol, atol=tol * 10)
    xe_last, xo_last, v_last, _, _ = winograd1d.scratch(c, f, 2 * tiles, r, dtype, last=True)
    xe_last[...], xo_last[...] = xe.T, xo.T
    winograd1d._input_transform_last(xe_last, xo_last, r, q, v_last, tiles)
    np.testing.assert_array_equal(v_last[: r + 1, : c * tiles].reshape(r + 1, tiles, c),
                                  v[: r + 1, : c * tiles].reshape(r + 1, c, tiles).transpose(0, 2, 1))
    m[...] = rng.standard_normal(m.shape)
    y, bias = np.empty((f, 1, 2 * tiles), dtype), np.array([0.5, -2.0], dtype)
    winograd1d._output_transform(m, r, q, bias, tiles, z, y)
    tiles_m = m[: r + 1, : f * tiles].reshape(r + 1, f, tiles).astype(np.float64)
    expected = np.einsum("ie,eft->fti", at, tiles_m).reshape(f, 2 * tiles) + bias[:, None]
    np.testing.assert_allclose(y[:, 0], expected, rtol=tol, atol=tol * 10)
    dy = rng.standard_normal((f, 1, 2 * tiles)).astype(dtype)
    winograd1d._gradient_transform(dy, at.astype(dtype), z, m)
    expected = np.einsum("ie,fti->eft", at, dy[:, 0].reshape(f, tiles, 2).astype(np.float64))
    np.testing.assert_allclose(m[: r + 1, : f * tiles].reshape(r + 1, f, tiles), expected, rtol=tol, atol=tol * 10)


@st.composite
def winograd1d_cases(draw):
    """1-D convolutions F(2, r) computes: >= MIN_CHANNELS inputs and outputs, an even output of at
    least MIN_OUTPUTS samples, any padding up to r - 1."""
    r = draw(st.sampled_from(R))
    pad = draw(st.integers(0, r - 1))
    lo = 2 * draw(st.integers(winograd1d.MIN_OUTPUTS // 2, winograd1d.MIN_OUTPUTS // 2 + 20))
    return dict(r=r, pad=pad, n=draw(st.integers(1, 4)), c=draw(st.integers(winograd1d.MIN_CHANNELS, 12)),
                f=draw(st.integers(winograd1d.MIN_CHANNELS, 12)), length=lo + r - 1 - 2 * pad)


@LAYOUTS
@pytest.mark.usefixtures("compiled_kernels")
@settings(max_examples=40, deadline=None)
@given(case=winograd1d_cases(), seed=seeds)
def test_winograd1d_conv_matches_torch_forward_dx_dw_db(last, case, seed):
    x = randn(seed, case["n"], case["c"], case["length"])
    w, b = randn(seed + 1, case["f"], case["c"], case["r"]), randn(seed + 2, case["f"])
    assert ran_winograd(F.conv1d_forward(x, w, b, 1, case["pad"])[1])
    with filter_gradient_layout(last):
        assert_matches_torch(partial(F.conv1d_forward, stride=1, pad=case["pad"]), F.conv1d_backward,
                             partial(torch.conv1d, stride=1, padding=case["pad"]), x, w, b, seed=seed)


@pytest.mark.parametrize("c, wo, last", [
    (winograd.LAST_MIN_CHANNELS, winograd1d.LAST_MAX_SAMPLES // winograd.LAST_MIN_CHANNELS, True),
    (32, 512, True),                                          # the bench's 1-D CNN, 32 -> 64
    (winograd.LAST_MIN_CHANNELS - 1, 64, False),              # channels fill no vector
    (64, 2 * winograd1d.LAST_MAX_SAMPLES // 64, False),       # a signal too long
])
def test_the_filter_gradient_goes_channels_last_on_enough_channels_and_short_enough_signals(c, wo, last):
    assert winograd1d.filter_gradient_channels_last(wo, c) is last


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("c, f, length, k, stride, dilation, groups", [
    (winograd1d.MIN_CHANNELS - 1, 8, 40, 3, 1, 1, 1),   # too few input channels
    (8, winograd1d.MIN_CHANNELS - 1, 40, 3, 1, 1, 1),   # too few filters
    (8, 8, winograd1d.MIN_OUTPUTS - 1, 3, 1, 1, 1),     # output too short (and odd)
    (8, 8, 41, 3, 1, 1, 1),                             # odd output
    (8, 8, 40, 9, 1, 1, 1),                             # no table for 9 taps
    (8, 8, 80, 3, 2, 1, 1),                             # strided
    (8, 8, 40, 3, 1, 2, 1),                             # dilated
    (8, 8, 40, 3, 1, 1, 2),                             # grouped
])
def test_1d_convolutions_winograd_does_not_compute_run_on_the_columns_and_match_torch(c, f, length, k, stride,
                                                                                       dilation, groups):
    x, w, b = randn(0, 2, c, length), randn(1, f, c // groups, k), randn(2, f)
    conv = partial(F.conv1d_forward, stride=stride, pad=1, dilation=dilation, groups=groups)
    assert not ran_winograd(conv(x, w, b)[1])
    assert_matches_torch(conv, F.conv1d_backward,
                         partial(torch.conv1d, stride=stride, padding=1, dilation=dilation, groups=groups), x, w, b)


@LAYOUTS
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_winograd1d_on_two_threads_equals_one_thread_bit_for_bit(dtype, last):
    x, w, b = randn(0, 9, 8, 64, dtype=dtype), randn(1, 10, 8, 7, dtype=dtype), randn(2, 10, dtype=dtype)
    dout = randn(3, 9, 10, 64, dtype=dtype)
    results = []
    for threads in (1, 2):
        with kernels.using("numba", threads=threads), filter_gradient_layout(last):
            out, cache = F.conv1d_forward(x, w, b, 1, 3)
            assert ran_winograd(cache)
            results.append((out, *F.conv1d_backward(dout, cache)))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("r", R)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_winograd1d_sends_a_non_finite_input_to_the_outputs_the_direct_sum_sends_it_to(r, value):
    """NaN: the same NaN outputs as PyTorch; inf: the same non-finite outputs (some NaN where the
    direct sum gives +-inf: the transforms subtract it from itself); every other output equal."""
    w, b = randn(1, 8, 8, r), randn(2, 8)
    for j in [0, 1, 2, r, 20, 33]:  # the first and last samples of tiles, even and odd
        x = randn(0, 1, 8, 40)
        x[0, 3, j] = value
        with kernels.using("numba", threads=1):
            out, cache = F.conv1d_forward(x, w, b, 1, r // 2)
        assert ran_winograd(cache)
        expected = torch.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=r // 2).numpy()
        np.testing.assert_array_equal(~np.isfinite(out), ~np.isfinite(expected))
        if np.isnan(value):
            assert np.isnan(out[~np.isfinite(out)]).all()
        np.testing.assert_allclose(out[np.isfinite(out)], expected[np.isfinite(expected)], rtol=1e-12, atol=1e-12)


@LAYOUTS
@pytest.mark.parametrize("r", R)
def test_winograd1d_gradients_match_central_differences(r, last):
    inputs = [randn(0, 2, 8, 29 + r), randn(1, 8, 8, r), randn(2, 8)]  # 32 outputs with padding 1
    with kernels.using("numba", threads=1), filter_gradient_layout(last):
        assert ran_winograd(F.conv1d_forward(*inputs, 1, 1)[1])
        result = check_function(partial(F.conv1d_forward, stride=1, pad=1), F.conv1d_backward, inputs,
                                name=f"winograd F(2, {r}) conv1d")
    assert result.passed(1e-7), result.errors


def test_filter_transforms_are_g_applied_in_float64_and_rounded_once():
    for r in R:
        w = randn(r, 5, 3, 1, r).astype(np.float32)
        g = np.array(winograd1d.MATRICES[r][1])
        expected = np.einsum("ek,fck->efc", g, w[:, :, 0].astype(np.float64))
        np.testing.assert_array_equal(winograd1d.transform_filters(w, np.float32), expected.astype(np.float32))
        du = randn(r + 1, r + 1, 5, 3)
        np.testing.assert_allclose(winograd1d.filter_gradient(du)[:, :, 0], np.einsum("ek,efc->fck", g, du), rtol=1e-14)
