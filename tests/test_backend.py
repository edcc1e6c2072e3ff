"""The backend: default dtype policy, the NumPy/CuPy switch; and the kernel contracts that hold for
every kernel: float32 in gives float32 out, backward never writes into dout or its cache."""
from functools import partial

import numpy as np
import pytest

import glassnet
import glassnet.functional as F
from glassnet import backend, nn


def _cupy_gpu_available():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.fixture
def restore_dtype():
    """Tests here switch the default dtype themselves; put it back whatever happens."""
    saved = backend.get_default_dtype()
    yield
    backend.set_default_dtype(saved)


def test_default_dtype_is_float32_and_parameters_and_buffers_are_created_in_it():
    assert backend.get_default_dtype() == np.float32
    assert glassnet.get_default_dtype() == np.float32
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 1))
    for name, array in model.state_dict().items():
        assert array.dtype == np.float32, name
    for p in model.parameters():
        assert p.grad.dtype == np.float32


def test_set_default_dtype_float64_makes_parameters_and_buffers_float64(restore_dtype):
    glassnet.set_default_dtype(np.float64)
    assert backend.get_default_dtype() == np.float64
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 1))
    for name, array in model.state_dict().items():
        assert array.dtype == np.float64, name
    backend.set_default_dtype(np.float32)
    assert nn.Linear(2, 2).weight.dtype == np.float32


def test_default_dtype_context_manager_restores_the_previous_dtype():
    with backend.default_dtype(np.float64) as dtype:
        assert dtype == np.float64 and nn.Linear(2, 2).weight.dtype == np.float64
    assert backend.get_default_dtype() == np.float32


def test_set_default_dtype_rejects_integer_dtypes(restore_dtype):
    with pytest.raises(ValueError, match="default dtype must be float32 or float64, got int64"):
        backend.set_default_dtype(np.int64)
    assert backend.get_default_dtype() == np.float32


def test_asarray_uses_the_default_dtype_unless_told_otherwise():
    assert backend.asarray([1, 2]).dtype == np.float32
    assert backend.asarray([1, 2], dtype=np.float64).dtype == np.float64


def test_numpy_is_the_default_backend_and_array_module_follows_the_arrays():
    assert backend.name() == "numpy" and backend.get_xp() is np
    assert backend.array_module(np.zeros(2)) is np
    assert backend.use("cpu") is np


@pytest.mark.skipif(_cupy_gpu_available(), reason="CuPy with a usable GPU is present: the error cannot happen")
def test_use_cupy_without_cupy_or_gpu_raises_a_clear_runtime_error():
    with pytest.raises(RuntimeError, match="CuPy|CUDA"):
        backend.use("cupy")
    assert backend.name() == "numpy", "a failed switch must leave the NumPy backend active"
    with pytest.raises(RuntimeError, match="CuPy|CUDA"):
        backend.to_device(np.zeros(2), "cuda")


def test_use_rejects_an_unknown_backend_name():
    with pytest.raises(ValueError, match=r"unknown backend 'tpu'"):
        backend.use("tpu")


def test_to_numpy_returns_numpy_arrays_unchanged_and_to_device_cpu_is_a_no_op():
    a = np.arange(3.0)
    assert backend.to_numpy(a) is a
    assert backend.to_device(a, "cpu") is a


# ------------------------------------------------------------------ float32 in, float32 out
def _r(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


KERNELS = {
    "affine": (F.affine_forward, F.affine_backward, (_r(2, 3), _r(3, 4), _r(4))),
    "conv": (partial(F.conv_forward, stride=2, pad=1), F.conv_backward, (_r(2, 2, 5, 5), _r(3, 2, 3, 3), _r(3))),
    "max_pool": (partial(F.max_pool_forward, size=3, stride=2), F.max_pool_backward, (_r(2, 2, 5, 5),)),
    "avg_pool": (partial(F.avg_pool_forward, size=3, stride=2), F.avg_pool_backward, (_r(2, 2, 5, 5),)),
    "global_avg_pool": (F.global_avg_pool_forward, F.global_avg_pool_backward, (_r(2, 2, 5, 5),)),
    "relu": (F.relu_forward, F.relu_backward, (_r(3, 4),)),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward, (_r(3, 4),)),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, (_r(3, 4),)),
    "tanh": (F.tanh_forward, F.tanh_backward, (_r(3, 4),)),
    "softmax": (F.softmax_forward, F.softmax_backward, (_r(3, 4),)),
    "batchnorm_train": (lambda x, g, b: F.batchnorm_forward(x, g, b, {"mean": np.zeros(2, np.float32), "var": np.ones(2, np.float32)}, True),
                        F.batchnorm_backward, (_r(3, 2, 2, 2), _r(2), _r(2))),
    "batchnorm_eval": (lambda x, g, b: F.batchnorm_forward(x, g, b, {"mean": np.zeros(2, np.float32), "var": np.ones(2, np.float32)}, False),
                       F.batchnorm_backward, (_r(3, 2, 2, 2), _r(2), _r(2))),
    "dropout": (lambda x: F.dropout_forward(x, 0.5, True, np.random.default_rng(0)), F.dropout_backward, (_r(3, 4),)),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_kernel_keeps_float32_forward_and_backward(name):
    forward, backward, inputs = KERNELS[name]
    out, cache = forward(*inputs)
    grads = backward(np.ones_like(out), cache)
    assert out.dtype == np.float32
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g.dtype == np.float32


@pytest.mark.parametrize("loss", [F.softmax_loss, F.svm_loss])
def test_classification_losses_keep_float32(loss):
    value, dscores = loss(_r(4, 3), np.array([0, 2, 1, 1]))
    assert np.asarray(value).dtype == np.float32 and dscores.dtype == np.float32


@pytest.mark.parametrize("loss", [F.bce_loss, F.bce_with_logits_loss, F.mse_loss])
def test_elementwise_losses_keep_float32(loss):
    p = np.random.default_rng(0).uniform(0.1, 0.9, (3, 4)).astype(np.float32)
    value, dp = loss(p, np.ones((3, 4), np.float32))
    assert np.asarray(value).dtype == np.float32 and dp.dtype == np.float32


def test_a_float32_network_keeps_float32_in_every_activation_gradient_and_buffer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(2 * 2 * 2, 3), nn.Dropout(0.3), nn.Softmax())
    x = _r(2, 1, 4, 4)
    out = model(x)
    dx = model.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    for name, p in model.named_parameters():
        assert p.grad.dtype == np.float32, name
    for name, b in model.named_buffers():
        assert b.dtype == np.float32, name


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_backward_never_modifies_dout_or_the_cached_inputs(name):
    forward, backward, inputs = KERNELS[name]
    inputs = [a.copy() for a in inputs]
    before = [a.copy() for a in inputs]
    out, cache = forward(*inputs)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    dout_before = dout.copy()
    first = backward(dout, cache)
    second = backward(dout, cache)  # an edited cache would change the second answer
    np.testing.assert_array_equal(dout, dout_before)
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b)
    for g1, g2 in zip(first if isinstance(first, tuple) else (first,), second if isinstance(second, tuple) else (second,)):
        np.testing.assert_array_equal(g1, g2)
