"""Gradient-flow and sparsity diagnostics (glassnet.diagnostics.flow) on small hand-checkable models."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from glassnet import nn
from glassnet.diagnostics.flow import (
    activation_sparsity,
    fraction_below,
    gradient_flow,
    trace_forward,
    weight_grad_norms,
    weight_sparsity,
)


def small_mlp(seed=0, activation=nn.ReLU):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 5, rng=rng), activation(), nn.Linear(5, 3, rng=rng))


def test_named_leaf_layers_expands_nested_sequentials_with_dotted_names_and_leaf_layers_drops_them():
    inner = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    model = nn.Sequential(nn.Flatten(), inner, nn.Linear(4, 2))
    names = [name for name, _ in nn.named_leaf_layers(model)]
    assert names == ["0", "1.0", "1.1", "2"]
    assert [type(layer) for _, layer in nn.named_leaf_layers(model)] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
    assert list(nn.leaf_layers(model)) == [layer for _, layer in nn.named_leaf_layers(model)]


def test_named_leaf_layers_of_a_single_layer_is_that_layer_named_after_its_type():
    layer = nn.ReLU()
    assert list(nn.named_leaf_layers(layer)) == [("ReLU", layer)]


def test_trace_forward_output_equals_model_forward_and_records_each_layer(float64):
    model = small_mlp()
    x = np.random.default_rng(1).standard_normal((7, 6))
    out, trace = trace_forward(model, x)
    np.testing.assert_array_equal(out, model.forward(x))
    assert [name for name, *_ in trace] == ["0", "1", "2", "3"]
    for (*_, out_i), (_, _, in_next, _) in zip(trace, trace[1:]):
        assert in_next is out_i  # each layer's input is the previous layer's output


def test_gradient_flow_weight_norms_equal_the_norms_of_backward_gradients(float64):
    model = small_mlp()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    flow = gradient_flow(model, nn.CrossEntropyLoss(), x, y)
    grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    loss, d = nn.CrossEntropyLoss()(model.forward(x), y)
    dx = model.backward(d)
    assert flow["loss"] == pytest.approx(float(loss))
    assert list(flow["weight_grad"]) == ["1.weight", "3.weight"]  # biases (1-D) are left out
    for name, norm in flow["weight_grad"].items():
        assert norm == pytest.approx(np.linalg.norm(grads[name]))
        np.testing.assert_allclose(grads[name], dict(model.named_parameters())[name].grad)
    assert list(flow["input_grad"]) == ["0", "1", "2", "3"]
    assert flow["input_grad"]["0"] == pytest.approx(np.linalg.norm(dx))


def test_gradient_flow_zeroes_old_gradients_first(float64):
    model = small_mlp()
    for p in model.parameters():
        p.grad[...] = 1e6
    rng = np.random.default_rng(3)
    flow = gradient_flow(model, nn.CrossEntropyLoss(), rng.standard_normal((4, 6)), rng.integers(0, 3, 4))
    assert max(flow["weight_grad"].values()) < 1e3


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, (5, 4), elements=st.floats(-6, 6)), st.integers(2, 6))
def test_each_sigmoid_shrinks_the_backward_signal_by_at_least_four(x, depth):
    model = nn.Sequential(*[nn.Sigmoid() for _ in range(depth)])
    target = np.zeros_like(x)
    flow = gradient_flow(model, nn.MSELoss(), x, target)
    norms = list(flow["input_grad"].values())  # input side first
    for before, after in zip(norms, norms[1:]):
        assert before <= 0.25 * after + 1e-15


def test_weight_grad_norms_can_include_biases(float64):
    model = small_mlp()
    for p in model.parameters():
        p.grad[...] = 1.0
    norms = weight_grad_norms(model, min_ndim=1)
    assert list(norms) == ["1.weight", "1.bias", "3.weight", "3.bias"]
    assert norms["1.bias"] == pytest.approx(np.sqrt(5))


def test_activation_sparsity_counts_positive_preactivations_and_exact_zeros(float64):
    x = np.array([[1.0, -1.0, 2.0, -2.0], [3.0, -0.5, 0.0, 4.0]])  # 4 of 8 are > 0
    relu = activation_sparsity(nn.Sequential(nn.ReLU()), x)["0"]
    sig = activation_sparsity(nn.Sequential(nn.Sigmoid()), x)["0"]
    assert relu == {"active": 0.5, "zero": 0.5}
    assert sig == {"active": 0.5, "zero": 0.0}


def test_activation_sparsity_measures_in_eval_mode_and_restores_the_mode(float64):
    model = nn.Sequential(nn.Dropout(0.9), nn.ReLU(), nn.Linear(4, 4), nn.Tanh())
    model.train()
    stats = activation_sparsity(model, np.ones((16, 4)))
    assert list(stats) == ["1", "3"]  # only activation layers
    assert stats["1"]["active"] == 1.0  # dropout was off: every input stayed positive
    assert model.training and model[0].training


def test_weight_sparsity_per_weight_and_overall(float64):
    model = small_mlp()
    model[1].weight.data[...] = 1.0
    model[1].weight.data[:3] = 1e-5  # 3 rows of 5 = 15 of 30 entries
    model[3].weight.data[...] = 0.0  # 15 of 15
    model[1].bias.data[...] = 0.0  # biases are not counted
    stats = weight_sparsity(model, threshold=1e-3)
    assert stats["1.weight"] == pytest.approx(0.5)
    assert stats["3.weight"] == 1.0
    assert stats["all"] == pytest.approx(30 / 45)


def test_fraction_below_accepts_one_array_or_several():
    a, b = np.array([0.0, 0.5, -1e-4]), np.array([[2.0, -2.0]])
    assert fraction_below(a, 1e-3) == pytest.approx(2 / 3)
    assert fraction_below([a, b], 1e-3) == pytest.approx(2 / 5)
    assert fraction_below([], 1e-3) == 0.0
