"""L1/L2 regularizers: penalty and gradient by hand and by torch autograd; which parameters they touch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from glassnet.nn.module import Module, Parameter
from glassnet.optim import L1, L2, CombinedRegularizer, regularizer_from


class Block(Module):
    """Stands in for Linear + BatchNorm: a 2-D weight, a bias, and BN's 1-D weight/bias."""

    def __init__(self, rng, dtype):
        super().__init__()
        self.weight = Parameter(rng.standard_normal((4, 3)).astype(dtype))
        self.bias = Parameter(rng.standard_normal(3).astype(dtype))
        self.bn_weight = Parameter(rng.standard_normal(3).astype(dtype))
        self.bn_bias = Parameter(rng.standard_normal(3).astype(dtype))


class Net(Module):
    """A conv-like 4-D weight with its bias, and a nested block."""

    def __init__(self, seed=0, dtype=np.float64):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.conv_weight = Parameter(rng.standard_normal((2, 3, 3, 3)).astype(dtype))
        self.conv_bias = Parameter(rng.standard_normal(2).astype(dtype))
        self.block = Block(rng, dtype)


def weights(net):
    return [net.conv_weight.data, net.block.weight.data]


def biases_and_bn(net):
    return [net.conv_bias, net.block.bias, net.block.bn_weight, net.block.bn_bias]


# ------------------------------------------------------------------------------ values by hand
def test_l2_penalty_is_half_reg_sum_of_squares_and_grad_is_reg_w():
    net = Net()
    reg = L2(0.3)
    assert reg.penalty(net) == pytest.approx(0.5 * 0.3 * sum(np.sum(w * w) for w in weights(net)), rel=1e-14)
    reg.add_grad(net)
    np.testing.assert_allclose(net.conv_weight.grad, 0.3 * net.conv_weight.data, rtol=1e-15)
    np.testing.assert_allclose(net.block.weight.grad, 0.3 * net.block.weight.data, rtol=1e-15)


def test_l1_penalty_is_reg_sum_of_abs_and_grad_is_reg_sign_w():
    net = Net()
    reg = L1(0.2)
    assert reg.penalty(net) == pytest.approx(0.2 * sum(np.sum(np.abs(w)) for w in weights(net)), rel=1e-14)
    reg.add_grad(net)
    np.testing.assert_array_equal(net.conv_weight.grad, 0.2 * np.sign(net.conv_weight.data))
    np.testing.assert_array_equal(net.block.weight.grad, 0.2 * np.sign(net.block.weight.data))


def test_l1_gradient_at_exactly_zero_weight_is_zero():
    p = Parameter(np.array([[0.0, -1.5], [2.0, 0.0]]))
    L1(1.0).add_grad([p])
    np.testing.assert_array_equal(p.grad, [[0.0, -1.0], [1.0, 0.0]])


# ------------------------------------------------------------------------------ against torch autograd
@settings(max_examples=25, deadline=None)
@given(
    shapes=st.lists(array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5), min_size=1, max_size=3),
    l1=st.floats(0, 1), l2=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
)
def test_combined_penalty_and_gradient_match_torch_autograd(shapes, l1, l2, seed):
    rng = np.random.default_rng(seed)
    params = [Parameter(rng.standard_normal(s)) for s in shapes]
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    reg = regularizer_from(l1=l1, l2=l2)

    tpenalty = sum(l1 * t.abs().sum() + 0.5 * l2 * (t * t).sum() for t in tparams)
    tpenalty.backward()
    if reg is None:
        assert l1 == l2 == 0
        return
    assert reg.apply(params) == pytest.approx(tpenalty.item(), rel=1e-12, abs=1e-300)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------------------ what is penalised
@pytest.mark.parametrize("reg", [L1(0.5), L2(0.5), regularizer_from(l1=0.1, l2=0.2)])
def test_regularizer_excludes_biases_and_batchnorm_parameters_by_default(reg):
    net, bare = Net(), Net()
    for p in biases_and_bn(bare):  # changing biases and BN parameters must not change the penalty
        p.data[...] = 100.0
    assert reg.penalty(net) == pytest.approx(reg.penalty(bare), rel=1e-15)
    reg.add_grad(net)
    for p in biases_and_bn(net):
        assert not p.grad.any()
    assert net.conv_weight.grad.any() and net.block.weight.grad.any()


@pytest.mark.parametrize("cls", [L1, L2])
def test_include_all_penalises_every_parameter(cls):
    net = Net()
    reg = cls(0.5, include_all=True)
    assert len(reg.targets(net)) == 6
    reg.add_grad(net)
    assert all(p.grad.any() for p in net.parameters())
    everything = sum(cls(0.5).penalty([Parameter(p.data.reshape(1, -1))]) for p in net.parameters())
    assert reg.penalty(net) == pytest.approx(everything, rel=1e-14)


# ------------------------------------------------------------------------------ API behaviour
def test_add_grad_accumulates_onto_the_backward_gradient():
    net = Net()
    net.block.weight.grad[...] = 1.0
    L2(0.1).add_grad(net)
    np.testing.assert_allclose(net.block.weight.grad, 1.0 + 0.1 * net.block.weight.data, rtol=1e-15)


def test_apply_adds_gradient_once_and_returns_penalty():
    net, ref = Net(), Net()
    reg = L2(0.25)
    value = reg.apply(net)
    assert value == reg.penalty(ref)
    reg.add_grad(ref)
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_regularizer_accepts_a_module_or_a_parameter_list_alike():
    net = Net()
    assert L1(0.1).penalty(net) == L1(0.1).penalty(net.parameters())


@pytest.mark.parametrize("cls", [L1, L2])
def test_regularizer_keeps_float32(cls):
    net = Net(dtype=np.float32)
    penalty = cls(0.1).apply(net)
    assert isinstance(penalty, float)
    assert all(p.grad.dtype == np.float32 for p in net.parameters())


def test_regularizer_from_returns_none_single_or_combined():
    assert regularizer_from() is None
    assert regularizer_from(l1=0, l2=0) is None
    only_l2 = regularizer_from(l2=0.01)
    assert isinstance(only_l2, L2) and only_l2.reg == 0.01
    only_l1 = regularizer_from(l1=0.02, include_all=True)
    assert isinstance(only_l1, L1) and only_l1.include_all
    both = regularizer_from(l1=0.1, l2=0.2)
    assert isinstance(both, CombinedRegularizer)
    net = Net()
    assert both.penalty(net) == pytest.approx(L1(0.1).penalty(net) + L2(0.2).penalty(net), rel=1e-15)


@pytest.mark.parametrize("make,match", [
    (lambda: L2(-0.1), r"L2: invalid reg -0\.1"),
    (lambda: L1(float("inf")), "L1: reg must be a finite real number"),
    (lambda: regularizer_from(l1=-1), "regularizer_from: invalid l1"),
    (lambda: regularizer_from(l2=-1), "regularizer_from: invalid l2"),
    (lambda: CombinedRegularizer(), "expected one or more Regularizer"),
])
def test_bad_regularizer_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()
