"""The first layer of a training step computes no input gradient (PyTorch skips it too): the conv and
affine backwards with ``need_dx=False`` return dx None and the same weight and bias gradients, on the
NumPy reference and on the compiled kernels."""
import numpy as np
import pytest

import glassnet.functional as F
from glassnet import kernels, nn

CHOICES = ["numpy", "numba"]  # numba is a core dependency


@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0)])
def test_conv_backward_without_dx_returns_none_and_the_same_weight_and_bias_gradients(choice, stride, pad):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 2, 7, 7)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    with kernels.using(choice):
        out, cache = F.conv_forward(x, w, b, stride, pad)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = F.conv_backward(dout, cache)
        out, cache = F.conv_forward(x, w, b, stride, pad)
        none, dw2, db2 = F.conv_backward(dout, cache, need_dx=False)
    assert dx.shape == x.shape and none is None
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)


def test_a_cnn_step_without_input_grad_leaves_the_first_convs_weight_gradient_unchanged():
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=rng), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2, rng=rng))
    assert model[0].can_skip_input_grad
    x = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
    dout = np.ones((2, 2), np.float32)
    model(x)
    assert model.backward(dout).shape == x.shape
    full = model[0].weight.grad.copy()
    model.zero_grad()
    model(x)
    assert model.backward(dout, need_input_grad=False) is None
    np.testing.assert_array_equal(model[0].weight.grad, full)
