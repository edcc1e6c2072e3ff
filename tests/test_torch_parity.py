"""The PyTorch-parity helper itself: it must fail on every mismatch, NaN and Inf included."""
import numpy as np
import pytest
import torch

from tests.torch_parity import assert_close, relative_error


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
