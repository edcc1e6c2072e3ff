"""nn.Residual: out = body(x) + shortcut(x) against PyTorch (identity and projection shortcuts, in
train and eval mode), its backward adding both paths' input gradients, state-dict names after the
attributes, the summary rows, and the error for branches whose shapes differ."""
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_module_matches_torch, randn, seeds

from glassnet import nn
from glassnet.io.torch_interop import torch_residual_class


def basic_block(c_in, c_out, stride, seed, projection):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN body, and conv1x1(stride)-BN shortcut (or the identity)."""
    rng = np.random.default_rng(seed)
    body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False, rng=rng), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False, rng=rng), nn.BatchNorm2d(c_out))
    shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False, rng=rng), nn.BatchNorm2d(c_out)) if projection else None
    return nn.Residual(body, shortcut)


def torch_basic_block(c_in, c_out, stride, projection):
    tnn = torch.nn
    body = tnn.Sequential(tnn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), tnn.BatchNorm2d(c_out), tnn.ReLU(),
                          tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), tnn.BatchNorm2d(c_out))
    shortcut = tnn.Sequential(tnn.Conv2d(c_in, c_out, 1, stride, bias=False), tnn.BatchNorm2d(c_out)) if projection else None
    return torch_residual_class()(body, shortcut)


@settings(max_examples=15, deadline=None)
@given(projection=st.booleans(), n=st.integers(2, 3), size=st.integers(3, 6), seed=seeds)
def test_residual_block_two_train_steps_then_eval_match_torch_with_identity_or_projection_shortcut(projection, n, size, seed):
    c_in, c_out, stride = (2, 3, 2) if projection else (3, 3, 1)
    batches = [randn(seed + k, n, c_in, size, size) for k in range(3)]
    assert_module_matches_torch(partial(basic_block, c_in, c_out, stride, seed, projection),
                                partial(torch_basic_block, c_in, c_out, stride, projection), *batches,
                                train=(True, True, False), seed=seed)


def test_residual_backward_adds_the_body_gradient_and_the_unchanged_dout_for_an_identity_shortcut(float64):
    body = nn.Linear(4, 4, rng=np.random.default_rng(0))
    block = nn.Residual(body)
    x, dout = randn(0, 3, 4), randn(1, 3, 4)
    w, b = body.weight.data, body.bias.data
    np.testing.assert_allclose(block(x), x @ w + b + x, rtol=1e-12)
    dx = block.backward(dout)
    np.testing.assert_allclose(dx, dout @ w.T + dout, rtol=1e-12)
    np.testing.assert_allclose(body.weight.grad, x.T @ dout, rtol=1e-12)


def test_residual_state_dict_names_follow_the_body_and_shortcut_attributes():
    model = nn.Sequential(nn.ReLU(), basic_block(2, 3, 2, 0, projection=True))
    keys = list(model.state_dict())
    assert keys[:2] == ["1.body.0.weight", "1.body.1.weight"]
    assert "1.shortcut.0.weight" in keys and "1.shortcut.1.running_var" in keys
    assert model[1].body[0]._name == "1.body.0"
    assert list(basic_block(3, 3, 1, 0, projection=False).state_dict())[0] == "body.0.weight"


def test_residual_summary_lists_both_branches_and_the_sum():
    table = nn.Sequential(basic_block(2, 3, 2, 0, projection=True), nn.ReLU()).summary((2, 6, 6))
    assert "0.shortcut.0" in table and "Residual sum: body + shortcut" in table and "(3, 3, 3)" in table


@pytest.mark.parametrize("shortcut, message", [
    (None, r"layer '0' Residual\(identity shortcut\): the body gives shape \(2, 3\) but the input \(identity shortcut\) gives \(2, 4\)"),
    (nn.Linear(4, 2), r"the body gives shape \(2, 3\) but the shortcut gives \(2, 2\)"),
])
def test_residual_with_branches_of_different_shapes_says_which_shapes(shortcut, message):
    model = nn.Sequential(nn.Residual(nn.Linear(4, 3), shortcut))
    with pytest.raises(ValueError, match=message):
        model(randn(0, 2, 4))


def test_residual_refuses_a_body_or_shortcut_that_is_not_a_module():
    with pytest.raises(TypeError, match="Residual: body is function, not a Module"):
        nn.Residual(lambda x: x)
    with pytest.raises(TypeError, match="Residual: shortcut is int"):
        nn.Residual(nn.ReLU(), 3)
