"""The PyTorch-parity helper itself: it must fail on every mismatch, NaN and Inf included."""
import numpy as np
import pytest
import torch

from tests.torch_parity import assert_close, assert_matches_torch, relative_error, spurious_blas_flags, strict_floats
from tests import torch_parity


def test_assert_close_passes_when_nan_and_inf_sit_at_the_same_positions_and_the_rest_agrees():
    a = np.array([1.0, np.nan, np.inf, -np.inf, 2.0])
    assert_close(a, torch.tensor(a.copy()), 1e-12, "same")
    assert relative_error(a, a) == 0.0


def test_assert_close_fails_on_a_large_error_beside_a_nan_instead_of_skipping_the_check():
    expected = np.array([1.0, np.nan, 2.0])
    with pytest.raises(AssertionError, match="relative error"):
        assert_close(np.array([1.0, np.nan, 5.0]), expected, 1e-9, "finite part differs")


@pytest.mark.parametrize("actual, expected, what", [
    ([np.nan, 1.0], [1.0, np.nan], "NaN at index"),
    ([np.inf, 1.0], [-np.inf, 1.0], r"\+Inf at index"),
    ([1.0, 2.0], [1.0, np.inf], r"\+Inf at index \(1,\)"),
])
def test_assert_close_fails_when_nan_or_inf_positions_or_signs_differ(actual, expected, what):
    with pytest.raises(AssertionError, match=what):
        assert_close(np.array(actual), np.array(expected), 1.0, "case")
    assert relative_error(np.array(actual), np.array(expected)) == np.inf


@pytest.mark.parametrize("operation, message", [
    (lambda: np.array([np.inf]) - np.array([np.inf]), "invalid value encountered in subtract"),
    (lambda: np.exp(np.array([1000.0])), "overflow encountered in exp"),
    (lambda: np.array([1.0]) / np.array([0.0]), "divide by zero encountered in divide"),
    (lambda: np.array([[1e300, 1e300]]) @ np.array([[1e300], [1e300]]), "overflow encountered in matmul"),
])
def test_strict_floats_raises_at_the_operation_that_overflows_divides_by_zero_or_goes_invalid(operation, message):
    with strict_floats(), pytest.raises(FloatingPointError, match=message):
        operation()
    with strict_floats(), np.errstate(under="ignore"), pytest.raises(FloatingPointError, match=message):
        operation()  # a kernel's own errstate for another category keeps the rest strict


@pytest.fixture
def blas_flag_count(monkeypatch):
    """The count of BLAS invalid flags from zero, put back afterwards: the flags these tests set on
    purpose must not reach the run's summary."""
    monkeypatch.setattr(torch_parity._RaiseFloatingPointErrors, "spurious", 0)


def test_strict_floats_counts_an_invalid_flag_from_a_blas_product_instead_of_raising(blas_flag_count):
    with strict_floats():
        product = np.array([[np.inf, 1.0]]) @ np.array([[0.0], [1.0]])
    assert np.isnan(product).all()
    assert spurious_blas_flags() == 1


def test_a_nan_out_of_a_product_still_fails_the_parity_check(blas_flag_count):
    def forward(x):
        return x @ np.array([[np.inf], [0.0]], dtype=x.dtype), None

    with pytest.raises(AssertionError, match="NaN at index"):
        assert_matches_torch(forward, lambda dout, cache: (), lambda t: t @ torch.zeros((2, 1), dtype=t.dtype),
                             np.array([[0.0, 1.0]]))
