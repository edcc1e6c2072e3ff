"""Bad input anywhere in a model fails early with a ValueError that names the layer (its position in the
model and its configuration) and the expected against the actual shape. Each layer's own cases live
in its file (test_conv.py, test_pool.py, test_norm.py, test_linear.py, test_loss.py); here the checks
that cross layers: dtype, a bad shape deep in the model, spatial kernels' rank, state_dict shapes."""
import re

import numpy as np
import pytest

import glassnet.functional as F
from glassnet import nn


def x(*shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def test_integer_input_is_rejected_naming_the_layer_and_dtype(error_model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d.*expected a floating-point input, got dtype int64"):
        error_model(x(2, 3, 8, 8, dtype=np.int64))


def test_a_bad_shape_deep_in_the_model_names_that_layer(error_model):
    with pytest.raises(ValueError, match=r"layer '5' Linear\(4, 2\).*got \(2, 64\)"):  # 4 channels x 4 x 4 after the pool
        error_model(x(2, 3, 10, 10))


@pytest.mark.parametrize("kernel", [F.conv_forward, F.max_pool_forward, F.avg_pool_forward, F.global_avg_pool_forward],
                         ids=lambda f: f.__name__)
def test_spatial_kernels_reject_input_of_the_wrong_rank(kernel):
    args = (np.zeros((4, 3, 3, 3)), np.zeros(4)) if kernel is F.conv_forward else ()
    with pytest.raises(ValueError, match=rf"{kernel.__name__}: expected input of shape \(N, C, H, W\), got \(3, 5, 5\)"):
        kernel(np.zeros((3, 5, 5)), *args)


# ------------------------------------------------------------------ state_dict
def test_mismatched_state_dict_shapes_name_key_layer_and_both_shapes(error_model):
    state = {**error_model.state_dict(), "1.running_mean": np.zeros(5), "5.weight": np.zeros((2, 4))}
    with pytest.raises(ValueError) as excinfo:
        error_model.load_state_dict(state)
    message = str(excinfo.value)
    assert re.search(r"1\.running_mean: expected shape \(4,\), got \(5,\) \(layer '1'\)", message)
    assert re.search(r"5\.weight: expected shape \(4, 2\), got \(2, 4\) \(layer '5'\)", message)


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Conv2d(3, 4, 0), "Conv2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.Conv1d(3, 4, 3, stride=0), "Conv1d: stride must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), "Conv2d: padding must be >= 0, got -1"),
    (lambda: nn.Conv2d(3, 4, 3, dilation=(1, 0)), r"Conv2d: dilation must be >= 1, got \(1, 0\)"),
    (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.AvgPool1d(2, stride=0), "AvgPool1d: stride must be >= 1, got 0"),
])
def test_window_layers_refuse_sizes_that_cannot_slide_when_built_naming_the_layer(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv1d_forward(np.zeros((2, 4, 10)), np.zeros((4, 3, 3)), 0),
     r"conv1d_forward: input has 4 channels but the filters expect 3 \(x \(2, 4, 10\), w \(4, 3, 3\)\)"),
    (lambda: F.conv1d_forward(np.zeros((2, 4, 10)), np.zeros((4, 4, 13)), 0),
     r"conv1d_forward: kernel size 13 is larger than the \(padded\) input size 10"),
    (lambda: F.max_pool1d_forward(np.zeros((2, 3, 10)), size=13), r"max_pool1d_forward: kernel size 13 is larger"),
    (lambda: F.avg_pool1d_forward(np.zeros((2, 3, 10)), stride=0), r"avg_pool1d_forward: stride must be >= 1, got 0"),
])
def test_one_dimensional_kernels_report_mistakes_in_the_signals_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()
