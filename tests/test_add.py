"""The sum of a residual block (functional/add.py): a + b and max(a + b, 0) against PyTorch (their
central differences are in test_gradcheck), the compiled twin shared between threads giving the reference's values bit for bit, and
a Sequential running a residual block's sum and its ReLU as one pass with the results of the two
layers one after the other."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes
from tests.torch_parity import assert_matches_torch, randn, seeds

import glassnet.functional as F
from glassnet import kernels, nn
from glassnet.functional._numba import threads

shapes = array_shapes(min_dims=1, max_dims=4, max_side=5)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds)
def test_add_forward_backward_match_torch(shape, seed):
    assert_matches_torch(F.add_forward, F.add_backward, torch.add, randn(seed, *shape), randn(seed + 1, *shape), seed=seed)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds)
def test_add_relu_forward_backward_match_torch(shape, seed):
    assert_matches_torch(F.add_relu_forward, F.add_relu_backward, lambda a, b: torch.relu(a + b),
                         randn(seed, *shape), randn(seed + 1, *shape), seed=seed)


@pytest.mark.parametrize("forward", [F.add_forward, F.add_relu_forward], ids=["add", "add_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_sum_shared_between_threads_equals_the_reference_bit_for_bit(forward, dtype, monkeypatch):
    """Over the threshold the pass is cut into pieces for two threads; NaN and infinities pass through
    as in NumPy (a NaN stays NaN after ReLU), and the result is the reference's exactly."""
    a, b = randn(0, 3, 5, 7, 11).astype(dtype), randn(1, 3, 5, 7, 11).astype(dtype)
    a.flat[[3, 40, 900]] = np.nan, np.inf, -np.inf
    b.flat[[40, 41]] = -np.inf, np.inf
    with kernels.using("numpy"), np.errstate(invalid="ignore"):
        expected, _ = forward(a, b)
    monkeypatch.setattr(threads, "PARALLEL_MIN", 0)
    with kernels.using("numba", threads=2), np.errstate(invalid="ignore"):
        out, _ = forward(a, b)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("forward", [F.add_forward, F.add_relu_forward], ids=["add", "add_relu"])
def test_adding_arrays_of_different_shapes_says_both_shapes(forward):
    with pytest.raises(ValueError, match=r"must have one shape to be added, got \(2, 3\) and \(3, 2\)"):
        forward(np.zeros((2, 3)), np.zeros((3, 2)))


def resnet_stage(projection):
    """Two blocks (each ``Residual`` then ``ReLU``), the first with a projection shortcut if asked."""
    rng = np.random.default_rng(0)

    def body(c_in, stride):
        return nn.Sequential(nn.Conv2d(c_in, 4, 3, stride, 1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.Conv2d(4, 4, 3, 1, 1, bias=False, rng=rng), nn.BatchNorm2d(4))

    c_in, stride = (3, 2) if projection else (4, 1)
    shortcut = nn.Sequential(nn.Conv2d(c_in, 4, 1, stride, bias=False, rng=rng), nn.BatchNorm2d(4)) if projection else None
    return nn.Sequential(nn.Residual(body(c_in, stride), shortcut), nn.ReLU(), nn.Residual(body(4, 1)), nn.ReLU())


@pytest.mark.parametrize("kernels_name", ["numpy", "numba"])
@pytest.mark.parametrize("projection", [True, False])
def test_sequential_runs_a_residual_sum_then_relu_as_one_pair_with_the_same_results(kernels_name, projection, monkeypatch):
    calls = []
    real = F.add_relu_forward
    monkeypatch.setattr(F, "add_relu_forward", lambda a, b: calls.append("add_relu_forward") or real(a, b))
    x = randn(0, 2, 3 if projection else 4, 6, 6).astype(np.float32)
    with kernels.using(kernels_name):
        fused, parts = resnet_stage(projection), resnet_stage(projection)
        out = fused(x)
        dout = randn(1, *out.shape).astype(np.float32)
        dx = fused.backward(dout)
        h = x
        for layer in parts:  # one layer at a time: no fusion
            h = layer.forward(h)
        d = dout
        for layer in reversed(list(parts)):
            d = layer.backward(d)
    assert calls == ["add_relu_forward"] * 2
    assert fused[1]._cache is None and fused[3]._cache is None  # each ReLU's cache was used and released
    np.testing.assert_array_equal(out, h)
    np.testing.assert_array_equal(dx, d)
    for (name, p), q in zip(fused.named_parameters(), parts.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)


def test_only_a_plain_residual_then_a_plain_relu_fuse():
    class ScaledResidual(nn.Residual):
        def forward(self, x):
            return 2 * super().forward(x)

    block = nn.Residual(nn.ReLU())
    assert block.fuses_with(nn.ReLU())
    assert not block.fuses_with(nn.LeakyReLU()) and not block.fuses_with(nn.Sigmoid())
    assert not ScaledResidual(nn.ReLU()).fuses_with(nn.ReLU())
    x = np.array([[-1.0, 0.5]])
    out = nn.Sequential(ScaledResidual(nn.ReLU()), nn.ReLU())(x)  # the override ran
    np.testing.assert_array_equal(out, np.maximum(2 * (np.maximum(x, 0) + x), 0))
