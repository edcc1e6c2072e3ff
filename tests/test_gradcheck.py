"""Central-difference gradient checks (float64, relative error < 1e-6) of every kernel, module and loss,
and tests of the checker itself. Inputs stay away from kinks: distinct values for max pooling,
|x| >= 0.1 for (leaky) ReLU, hinge margins at least 0.1 from zero, probabilities inside (0, 1)."""
from functools import partial

import numpy as np
import pytest

import glassnet.functional as F
from glassnet import backend, nn
from glassnet.diagnostics import check_function, check_loss, check_module, numerical_gradient, relative_error

TOL = 1e-6


def randn(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(seed, *shape):
    """Values with |x| in [0.1, 1.5]: no central difference straddles the kink at 0."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.5, shape)


def distinct(seed, *shape):
    """A permutation of evenly spaced values (gap 0.05): every pooling window has a clear maximum."""
    return np.random.default_rng(seed).permutation(np.arange(np.prod(shape)) * 0.05).reshape(shape)


def bn_running(c):
    return {"mean": np.zeros(c), "var": np.ones(c)}


def affine_bn_relu_train_fixed_bias(x, w, gamma, beta):
    """affine_bn_relu in train mode as f(x, w, gamma, beta): the bias is left out of the check because
    batch norm subtracts the batch mean, so its gradient is exactly zero (test_layer_utils pins that)."""
    return F.affine_bn_relu_forward(x, w, np.linspace(-1, 1, w.shape[1]), gamma, beta, bn_running(w.shape[1]), True)


def affine_bn_relu_backward_without_db(dout, cache):
    dx, dw, _, dgamma, dbeta = F.affine_bn_relu_backward(dout, cache)
    return dx, dw, dgamma, dbeta


def dropout_with_fixed_mask(x):
    """Each call redraws the same mask (fresh generator, same seed), so the function is deterministic."""
    return F.dropout_forward(x, 0.4, True, np.random.default_rng(0))


# ------------------------------------------------------------------ kernels
KERNELS = {
    "affine": (F.affine_forward, F.affine_backward, [randn(0, 2, 3, 2), randn(1, 6, 4), randn(2, 4)]),
    "conv": (partial(F.conv_forward, stride=(2, 1), pad=(1, 0)), F.conv_backward, [randn(0, 2, 2, 5, 6), randn(1, 3, 2, 3, 2), randn(2, 3)]),
    "conv/stride1_pad2": (partial(F.conv_forward, stride=1, pad=2), F.conv_backward, [randn(0, 1, 2, 3, 4), randn(1, 2, 2, 2, 3), randn(2, 2)]),
    "conv/dilated_grouped": (partial(F.conv_forward, stride=(1, 2), pad=1, dilation=(2, 1), groups=2), F.conv_backward,
                             [randn(0, 2, 4, 5, 6), randn(1, 4, 2, 2, 3), randn(2, 4)]),
    "conv/depthwise": (partial(F.conv_forward, stride=1, pad=1, groups=3), F.conv_backward,
                       [randn(0, 2, 3, 4, 4), randn(1, 6, 1, 3, 3), randn(2, 6)]),
    "conv1d": (partial(F.conv1d_forward, stride=2, pad=2, dilation=2, groups=2), F.conv1d_backward,
               [randn(0, 2, 4, 9), randn(1, 2, 2, 3), randn(2, 2)]),
    "max_pool1d": (partial(F.max_pool1d_forward, size=3, stride=2), F.max_pool1d_backward, [distinct(0, 2, 2, 9)]),
    "relu_max_pool1d": (partial(F.relu_max_pool1d_forward, size=2, stride=2), F.relu_max_pool1d_backward,
                        [distinct(4, 2, 3, 8) - 1.175]),
    "avg_pool1d": (partial(F.avg_pool1d_forward, size=3, stride=2), F.avg_pool1d_backward, [randn(0, 2, 2, 9)]),
    "max_pool": (partial(F.max_pool_forward, size=3, stride=2), F.max_pool_backward, [distinct(0, 2, 2, 5, 6)]),
    "max_pool/rect": (partial(F.max_pool_forward, size=(2, 3), stride=(1, 2)), F.max_pool_backward, [distinct(1, 1, 2, 4, 7)]),
    "relu_max_pool": (partial(F.relu_max_pool_forward, size=2, stride=2), F.relu_max_pool_backward,
                      [distinct(2, 2, 3, 4, 6) - 3.575]),  # half negative, none within 0.025 of ReLU's kink
    "relu_max_pool/overlapping": (partial(F.relu_max_pool_forward, size=3, stride=2), F.relu_max_pool_backward,
                                  [distinct(3, 1, 2, 5, 7) - 1.725]),
    "avg_pool": (partial(F.avg_pool_forward, size=(3, 2), stride=(2, 1)), F.avg_pool_backward, [randn(0, 2, 2, 5, 5)]),
    "global_avg_pool": (F.global_avg_pool_forward, F.global_avg_pool_backward, [randn(0, 2, 3, 3, 4)]),
    "relu": (F.relu_forward, F.relu_backward, [away_from_zero(0, 3, 4)]),
    "add": (F.add_forward, F.add_backward, [randn(0, 3, 4), randn(1, 3, 4)]),
    "add_relu": (F.add_relu_forward, F.add_relu_backward, [away_from_zero(0, 3, 4), np.full((3, 4), 0.04)]),
    "leaky_relu": (partial(F.leaky_relu_forward, slope=0.1), F.leaky_relu_backward, [away_from_zero(0, 3, 4)]),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, [2 * randn(0, 3, 4)]),
    "tanh": (F.tanh_forward, F.tanh_backward, [randn(0, 3, 4)]),
    "softmax": (F.softmax_forward, F.softmax_backward, [randn(0, 3, 5)]),
    "softmax/last_axis": (partial(F.softmax_forward, axis=-1), F.softmax_backward, [randn(0, 2, 3, 4)]),
    "batchnorm/train_2d": (lambda x, g, b: F.batchnorm_forward(x, g, b, bn_running(3), True), F.batchnorm_backward,
                           [randn(0, 5, 3), 1 + randn(1, 3) ** 2, randn(2, 3)]),
    "batchnorm/train_3d": (lambda x, g, b: F.batchnorm_forward(x, g, b, bn_running(2), True), F.batchnorm_backward,
                           [randn(0, 3, 2, 4), 1 + randn(1, 2) ** 2, randn(2, 2)]),
    "batchnorm/train_4d": (lambda x, g, b: F.batchnorm_forward(x, g, b, bn_running(2), True), F.batchnorm_backward,
                           [randn(0, 2, 2, 3, 2), 1 + randn(1, 2) ** 2, randn(2, 2)]),
    "batchnorm/eval_4d": (lambda x, g, b: F.batchnorm_forward(x, g, b, {"mean": randn(3, 2), "var": 1 + randn(4, 2) ** 2}, False),
                          F.batchnorm_backward, [randn(0, 2, 2, 3, 2), randn(1, 2), randn(2, 2)]),
    "batchnorm_relu/train_4d": (lambda x, g, b: F.batchnorm_relu_forward(x, g, b, bn_running(2), True),
                                F.batchnorm_relu_backward, [randn(0, 3, 2, 3, 2), 1 + randn(1, 2) ** 2, randn(2, 2)]),
    "batchnorm_relu/eval_3d": (lambda x, g, b: F.batchnorm_relu_forward(x, g, b, bn_running(2), False),
                               F.batchnorm_relu_backward, [randn(0, 3, 2, 5), 1 + randn(1, 2) ** 2, randn(2, 2)]),
    "dropout": (dropout_with_fixed_mask, F.dropout_backward, [randn(0, 4, 5)]),
    "affine_relu": (F.affine_relu_forward, F.affine_relu_backward, [randn(0, 3, 2, 2), randn(1, 4, 5), randn(2, 5)]),
    "affine_bn_relu/train": (affine_bn_relu_train_fixed_bias, affine_bn_relu_backward_without_db,
                             [randn(0, 5, 3), randn(1, 3, 4), 1 + randn(3, 4) ** 2, randn(4, 4)]),
    "affine_bn_relu/eval": (lambda x, w, b, g, be: F.affine_bn_relu_forward(x, w, b, g, be, bn_running(4), False),
                            F.affine_bn_relu_backward, [randn(0, 5, 3), randn(1, 3, 4), randn(2, 4), 1 + randn(3, 4) ** 2, randn(4, 4)]),
    "conv_relu/stride2_pad1": (partial(F.conv_relu_forward, stride=2, pad=1), F.conv_relu_backward,
                               [randn(0, 2, 2, 5, 5), randn(1, 3, 2, 3, 3), randn(2, 3)]),
    "conv_relu_pool": (partial(F.conv_relu_pool_forward, stride=1, pad=1), F.conv_relu_pool_backward,
                       [distinct(0, 2, 2, 4, 4), randn(1, 3, 2, 3, 3), randn(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_backward_matches_central_differences(name):
    forward, backward, inputs = KERNELS[name]
    result = check_function(forward, backward, inputs, name=name)
    assert result.passed(TOL), result.errors


# ------------------------------------------------------------------ losses
def svm_scores(seed, n, c):
    """Scores on a 0.3 grid: every margin s_j - s_y + 1 = 0.3k + 1 is at least 0.1 from zero."""
    return 0.3 * np.random.default_rng(seed).integers(-5, 6, (n, c)).astype(np.float64)


rng = np.random.default_rng(0)
LABELS = rng.integers(0, 4, 5)
PROBS, SOFT_TARGETS, WEIGHTS = rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4)), rng.uniform(0.5, 2, (3, 4))

LOSSES = {
    "softmax_loss": (F.softmax_loss, randn(0, 5, 4), LABELS),
    "svm_loss": (F.svm_loss, svm_scores(0, 5, 4), LABELS),
    "svm_loss/delta_0.5": (partial(F.svm_loss, delta=0.5), svm_scores(1, 5, 4), LABELS),
    "bce_loss": (F.bce_loss, PROBS, SOFT_TARGETS),
    "bce_loss/weighted": (partial(F.bce_loss, weight=WEIGHTS), PROBS, SOFT_TARGETS),
    "bce_with_logits_loss": (F.bce_with_logits_loss, 3 * randn(0, 3, 4), SOFT_TARGETS),
    "bce_with_logits_loss/weighted": (partial(F.bce_with_logits_loss, weight=WEIGHTS), 3 * randn(0, 3, 4), SOFT_TARGETS),
    "mse_loss": (F.mse_loss, randn(0, 3, 4), randn(1, 3, 4)),
    "CrossEntropyLoss": (nn.CrossEntropyLoss(), randn(0, 5, 4), LABELS),
    "SVMLoss": (nn.SVMLoss(), svm_scores(2, 5, 4), LABELS),
    "BCELoss": (nn.BCELoss(weight=WEIGHTS), PROBS, SOFT_TARGETS),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(), 3 * randn(0, 3, 4), SOFT_TARGETS),
    "MSELoss": (nn.MSELoss(), randn(0, 3, 4), randn(1, 3, 4)),
}


def test_svm_scores_keep_every_margin_away_from_the_hinge():
    for loss_fn, scores, y in (LOSSES["svm_loss"], LOSSES["svm_loss/delta_0.5"], LOSSES["SVMLoss"]):
        delta = getattr(loss_fn, "keywords", {}).get("delta", 1.0)
        margins = scores - scores[np.arange(len(y)), y][:, None] + delta
        margins[np.arange(len(y)), y] = 1.0
        assert np.abs(margins).min() >= 0.04


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradient_matches_central_differences(name):
    loss_fn, scores, target = LOSSES[name]
    result = check_loss(loss_fn, scores, target, name=name)
    assert result.passed(TOL), result.errors


# ------------------------------------------------------------------ modules
def _module(make, train=True):
    def build():
        m = make()
        return m.train(train)

    return build


def _bn_with_affine(cls, c):
    m = cls(c)
    m.weight.data[...] = 1 + np.arange(c) * 0.3
    m.bias.data[...] = np.linspace(-1, 1, c)
    return m


def _small_cnn():
    """Conv without bias before BN: a conv bias directly followed by BN has an exactly-zero gradient."""
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(3), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(3, 2, 2, rng=rng), nn.Sigmoid(), nn.Flatten(), nn.Linear(2, 3, rng=rng),
    )


def _small_resnet():
    """A residual block whose shortcut projects (strided 1x1 conv) and a BN in the body; Tanh keeps it smooth."""
    rng = np.random.default_rng(0)
    body = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False, rng=rng), _bn_with_affine(nn.BatchNorm2d, 3),
                         nn.Tanh(), nn.Conv2d(3, 3, 3, padding=1, rng=rng))
    return nn.Sequential(nn.Residual(body, nn.Conv2d(2, 3, 1, stride=2, rng=rng)), nn.Tanh(), nn.GlobalAvgPool2d())


MODULES = {
    "Linear": (_module(lambda: nn.Linear(6, 3, rng=np.random.default_rng(0))), randn(0, 2, 6)),
    "Linear/nchw_input": (_module(lambda: nn.Linear(12, 2, rng=np.random.default_rng(0))), randn(0, 2, 3, 2, 2)),
    "Conv2d": (_module(lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, rng=np.random.default_rng(0))), randn(0, 2, 2, 4, 5)),
    "Conv2d/dilated_depthwise": (_module(lambda: nn.Conv2d(2, 4, 3, padding=2, dilation=2, groups=2, rng=np.random.default_rng(0))),
                                 randn(0, 2, 2, 4, 5)),
    "Conv1d": (_module(lambda: nn.Conv1d(4, 2, 3, stride=2, padding=1, dilation=2, groups=2, rng=np.random.default_rng(0))),
               randn(0, 2, 4, 8)),
    "MaxPool1d": (_module(lambda: nn.MaxPool1d(3, 2)), distinct(0, 2, 2, 9)),
    "AvgPool1d": (_module(lambda: nn.AvgPool1d(2)), randn(0, 2, 2, 7)),
    "GlobalAvgPool1d": (_module(nn.GlobalAvgPool1d), randn(0, 2, 3, 5)),
    "BatchNorm1d/train_signal": (_module(lambda: _bn_with_affine(nn.BatchNorm1d, 2)), randn(0, 3, 2, 4)),
    "Residual/identity": (_module(lambda: nn.Residual(nn.Sequential(nn.Conv1d(2, 2, 3, padding=1, rng=np.random.default_rng(0)),
                                                                  nn.Tanh()))), randn(0, 2, 2, 5)),
    "Residual/projection_train": (_module(_small_resnet), randn(0, 2, 2, 4, 4)),
    "Residual/projection_eval": (_module(_small_resnet, train=False), randn(0, 2, 2, 4, 4)),
    "MaxPool2d": (_module(lambda: nn.MaxPool2d(3, 2)), distinct(0, 2, 2, 5, 5)),
    "AvgPool2d": (_module(lambda: nn.AvgPool2d(2, 1)), randn(0, 2, 2, 3, 4)),
    "GlobalAvgPool2d": (_module(nn.GlobalAvgPool2d), randn(0, 2, 3, 2, 3)),
    "Flatten": (_module(nn.Flatten), randn(0, 2, 3, 2)),
    "ReLU": (_module(nn.ReLU), away_from_zero(0, 3, 4)),
    "LeakyReLU": (_module(lambda: nn.LeakyReLU(0.2)), away_from_zero(0, 3, 4)),
    "Sigmoid": (_module(nn.Sigmoid), randn(0, 3, 4)),
    "Tanh": (_module(nn.Tanh), randn(0, 3, 4)),
    "Softmax": (_module(nn.Softmax), randn(0, 3, 4)),
    "Dropout/eval": (_module(lambda: nn.Dropout(0.5), train=False), randn(0, 3, 4)),
    "Dropout/p0_train": (_module(lambda: nn.Dropout(0.0)), randn(0, 3, 4)),
    "BatchNorm1d/train": (_module(lambda: _bn_with_affine(nn.BatchNorm1d, 3)), randn(0, 4, 3)),
    "BatchNorm2d/train": (_module(lambda: _bn_with_affine(nn.BatchNorm2d, 2)), randn(0, 2, 2, 2, 3)),
    "BatchNorm2d/eval": (_module(lambda: _bn_with_affine(nn.BatchNorm2d, 2), train=False), randn(0, 2, 2, 2, 3)),
    "Sequential/cnn_train": (_module(_small_cnn), randn(0, 2, 2, 4, 4)),
    "Sequential/cnn_eval": (_module(_small_cnn, train=False), randn(0, 2, 2, 4, 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_backward_matches_central_differences_for_input_and_every_parameter(name, float64):
    make, x = MODULES[name]
    module = make()
    result = check_module(module, x, name=name)
    assert set(result.errors) == {"input", *(k for k, _ in module.named_parameters())}
    assert result.passed(TOL), result.errors


# ------------------------------------------------------------------ coverage of the tables
def test_gradcheck_tables_cover_every_kernel_every_layer_and_every_loss():
    """Table keys are "<kernel, layer or loss>" or "<...>/<variant>"."""

    def covered(table):
        return {key.split("/")[0] for key in table}

    assert {n[: -len("_forward")] for n in F.__all__ if n.endswith("_forward")} <= covered(KERNELS)
    assert {n for n in F.__all__ if n.endswith("_loss")} | set(nn.LOSSES) <= covered(LOSSES)
    assert set(nn.LAYERS) | {"Sequential", "Residual"} <= covered(MODULES)


# ------------------------------------------------------------------ the checker itself
def test_check_function_flags_a_wrong_backward():
    def wrong_backward(dout, cache):
        return 2 * F.relu_backward(dout, cache)

    result = check_function(F.relu_forward, wrong_backward, [away_from_zero(0, 4, 4)])
    assert not result.passed(TOL) and result.max_error > 0.1


def test_check_loss_flags_a_gradient_off_by_the_batch_size():
    def unaveraged(scores, y):
        loss, d = F.softmax_loss(scores, y)
        return loss, d * len(y)

    assert not check_loss(unaveraged, randn(0, 4, 3), np.array([0, 1, 2, 0])).passed(TOL)


def test_check_module_flags_a_wrong_parameter_gradient(float64):
    layer = nn.Linear(3, 2, rng=np.random.default_rng(0))
    original = layer.backward

    def backward_with_bad_bias_grad(dout):
        dx = original(dout)
        layer.bias.grad += 1.0
        return dx

    layer.backward = backward_with_bad_bias_grad
    result = check_module(layer, randn(0, 2, 3))
    assert result.errors["bias"] > 0.1 and result.errors["weight"] < TOL


def test_check_module_refuses_a_float32_module():
    with pytest.raises(ValueError, match="float64"):
        check_module(nn.Linear(2, 2), randn(0, 1, 2))


def test_check_module_restores_batchnorm_running_statistics(float64):
    bn = nn.BatchNorm2d(2)
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    check_module(bn, randn(0, 3, 2, 2, 2))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_numerical_gradient_restores_the_input_and_is_exact_for_a_quadratic():
    x = randn(0, 3, 2)
    x0 = x.copy()
    dout = randn(1, 3, 2)
    grad = numerical_gradient(lambda v: v * v, x, dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(grad, 2 * x * dout, rtol=1e-8)


def test_relative_error_is_zero_for_equal_arrays_and_one_for_opposite_ones():
    a = randn(0, 5)
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_check_module_is_usable_under_the_default_dtype_context():
    with backend.default_dtype(np.float64):
        layer = nn.Linear(3, 2, rng=np.random.default_rng(0))
        assert check_module(layer, randn(0, 2, 3)).passed(TOL)


# ------------------------------------------------------------------ `glassnet gradcheck`'s suite
def test_standard_suite_checks_every_layer_class_of_glassnet_nn():
    import inspect

    from glassnet import nn
    from glassnet.diagnostics.layer_checks import _layer_cases

    checked = {type(factory()) for _, factory, _ in _layer_cases(np.random.default_rng(0))}
    layers = {c for c in vars(nn).values() if inspect.isclass(c) and issubclass(c, nn.Module)}
    assert layers - checked == {nn.Module, nn.Sequential}, "not in glassnet gradcheck's table"
