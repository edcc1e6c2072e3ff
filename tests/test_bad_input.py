"""Bad input fails early with a ValueError that names the layer (its position in the model and its
configuration) and the expected against the actual shape."""
import re

import numpy as np
import pytest

import glassnet.functional as F
from glassnet import nn


@pytest.fixture
def model():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4, 2), nn.BatchNorm1d(2),
    )


def x(*shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


# ------------------------------------------------------------------ layers
def test_conv2d_wrong_rank_names_layer_and_shapes(model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d\(3, 4, .*expected input of shape \(N, 3, H, W\), got \(3, 8, 8\)"):
        model(x(3, 8, 8))


def test_conv2d_wrong_channel_count_names_layer_and_shapes(model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d\(3, 4, .*expected 3 channels.*\(N, 3, H, W\), got shape \(2, 2, 8, 8\)"):
        model(x(2, 2, 8, 8))


def test_conv2d_input_smaller_than_kernel_names_layer_and_sizes(model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d.*input spatial size \(2, 2\).*smaller than the kernel \(3, 3\)"):
        model(x(2, 3, 2, 2))


def test_batchnorm2d_wrong_channel_count_names_layer_and_shapes(model):
    with pytest.raises(ValueError, match=r"layer '1' BatchNorm2d\(4, .*expected 4 channels.*\(N, 4, H, W\), got shape \(2, 3, 4, 4\)"):
        model[1](x(2, 3, 4, 4))


def test_batchnorm1d_wrong_rank_and_wrong_feature_count_name_layer_and_shapes(model):
    with pytest.raises(ValueError, match=r"layer '6' BatchNorm1d\(2, .*expected input of shape \(N, 2\) or \(N, 2, L\), got \(2, 2, 1, 1\)"):
        model[6](x(2, 2, 1, 1))
    with pytest.raises(ValueError, match=r"layer '6' BatchNorm1d\(2, .*\(N, 2\) or \(N, 2, L\), got shape \(2, 3\)"):
        model[6](x(2, 3))


def test_linear_wrong_feature_count_names_layer_and_shapes(model):
    with pytest.raises(ValueError, match=r"layer '5' Linear\(4, 2\): expected input of shape \(N, 4\).*got \(2, 5\)"):
        model[5](x(2, 5))


def test_linear_one_dimensional_input_names_expected_and_actual_shape():
    with pytest.raises(ValueError, match=r"Linear\(4, 2\): expected input of shape \(N, 4\).*got \(4,\)"):
        nn.Linear(4, 2)(x(4))


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.AvgPool2d(2), nn.GlobalAvgPool2d()], ids=lambda m: type(m).__name__)
def test_pooling_wrong_rank_names_layer_and_shapes(layer):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"layer '0' {name}\(.*expected input of shape \(N, C, H, W\), got \(2, 4\)"):
        nn.Sequential(layer)(x(2, 4))


def test_maxpool_input_smaller_than_window_names_layer_and_sizes(model):
    with pytest.raises(ValueError, match=r"layer '3' MaxPool2d.*input spatial size \(1, 1\) is smaller than the window \(2, 2\)"):
        model[3](x(2, 4, 1, 1))


def test_integer_input_is_rejected_naming_the_layer_and_dtype(model):
    with pytest.raises(ValueError, match=r"layer '0' Conv2d.*expected a floating-point input, got dtype int64"):
        model(x(2, 3, 8, 8, dtype=np.int64))


def test_a_bad_shape_deep_in_the_model_names_that_layer(model):
    with pytest.raises(ValueError, match=r"layer '5' Linear\(4, 2\).*got \(2, 64\)"):  # 4 channels x 4 x 4 after the pool
        model(x(2, 3, 10, 10))


# ------------------------------------------------------------------ labels and targets
@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.SVMLoss()], ids=repr)
def test_non_integer_labels_are_rejected_naming_the_loss(loss):
    name = type(loss).__name__
    with pytest.raises(ValueError, match=rf"{name}: labels must be integers, got dtype float64"):
        loss(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=rf"{name}: labels must be integers"):
        loss(np.zeros((2, 3)), np.array(["a", "b"]))


@pytest.mark.parametrize("labels, low, high", [([0, 3], 0, 3), ([-1, 2], -1, 2)])
@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.SVMLoss()], ids=repr)
def test_out_of_range_labels_are_rejected_naming_valid_range_and_actual_values(loss, labels, low, high):
    name = type(loss).__name__
    message = rf"{name}: labels must lie in \[0, 2\] for 3 classes, got values from {low} to {high}"
    with pytest.raises(ValueError, match=message):
        loss(np.zeros((2, 3)), np.array(labels))


@pytest.mark.parametrize("kernel", [F.softmax_loss, F.svm_loss], ids=lambda f: f.__name__)
def test_loss_kernels_reject_bad_labels_and_bad_score_shapes(kernel):
    with pytest.raises(ValueError, match=rf"{kernel.__name__}: labels must lie in \[0, 2\]"):
        kernel(np.zeros((2, 3)), np.array([0, 7]))
    with pytest.raises(ValueError, match=rf"{kernel.__name__}: expected labels of shape \(2,\) for scores \(2, 3\), got \(3,\)"):
        kernel(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=rf"{kernel.__name__}: expected scores of shape \(N, C\), got \(2, 3, 1\)"):
        kernel(np.zeros((2, 3, 1)), np.array([0, 1]))


@pytest.mark.parametrize("loss", [nn.BCELoss(), nn.BCEWithLogitsLoss(), nn.MSELoss()], ids=repr)
def test_elementwise_loss_target_of_another_shape_names_loss_and_both_shapes(loss):
    name = type(loss).__name__
    with pytest.raises(ValueError, match=rf"{name}: target must have the input's shape \(2, 3\), got \(3, 2\)"):
        loss(np.full((2, 3), 0.5), np.zeros((3, 2)))


def test_bce_rejects_values_outside_0_1_and_points_to_the_logits_version():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*bce_with_logits_loss"):
        nn.BCELoss()(np.full((2, 3), 2.0), np.zeros((2, 3)))


def test_bce_weight_that_does_not_broadcast_names_both_shapes():
    with pytest.raises(ValueError, match=r"weight of shape \(4,\) does not broadcast to the input \(2, 3\)"):
        F.bce_with_logits_loss(np.zeros((2, 3)), np.zeros((2, 3)), weight=np.ones(4))


# ------------------------------------------------------------------ kernels
def test_conv_kernel_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"conv_forward: input has 3 channels but the filters expect 2 \(x \(2, 3, 5, 5\), w \(4, 2, 3, 3\)\)"):
        F.conv_forward(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)), np.zeros(4))


def test_affine_kernel_feature_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"input flattens to 5 features .* expects D=4 \(input shape \(2, 5\), weight shape \(4, 3\)\)"):
        F.affine_forward(np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(3))


@pytest.mark.parametrize("kernel", [F.conv_forward, F.max_pool_forward, F.avg_pool_forward, F.global_avg_pool_forward],
                         ids=lambda f: f.__name__)
def test_spatial_kernels_reject_input_of_the_wrong_rank(kernel):
    args = (np.zeros((4, 3, 3, 3)), np.zeros(4)) if kernel is F.conv_forward else ()
    with pytest.raises(ValueError, match=rf"{kernel.__name__}: expected input of shape \(N, C, H, W\), got \(3, 5, 5\)"):
        kernel(np.zeros((3, 5, 5)), *args)


def test_batchnorm_kernel_rejects_wrong_rank_wrong_gamma_and_a_single_value_per_channel():
    running = {"mean": np.zeros(3), "var": np.ones(3)}
    with pytest.raises(ValueError, match=r"expected input of shape \(N, D\), \(N, C, L\) or \(N, C, H, W\), got \(2, 3, 4, 1, 1\)"):
        F.batchnorm_forward(np.zeros((2, 3, 4, 1, 1)), np.ones(3), np.zeros(3), running, True)
    with pytest.raises(ValueError, match=r"input has 3 features/channels \(shape \(2, 3\)\) but gamma has shape \(4,\)"):
        F.batchnorm_forward(np.zeros((2, 3)), np.ones(4), np.zeros(4), running, True)
    with pytest.raises(ValueError, match=r"more than one value per channel, got input shape \(1, 3\)"):
        F.batchnorm_forward(np.zeros((1, 3)), np.ones(3), np.zeros(3), running, True)


# ------------------------------------------------------------------ state_dict
def test_mismatched_state_dict_shapes_name_key_layer_and_both_shapes(model):
    state = {**model.state_dict(), "1.running_mean": np.zeros(5), "5.weight": np.zeros((2, 4))}
    with pytest.raises(ValueError) as excinfo:
        model.load_state_dict(state)
    message = str(excinfo.value)
    assert re.search(r"1\.running_mean: expected shape \(4,\), got \(5,\) \(layer '1'\)", message)
    assert re.search(r"5\.weight: expected shape \(4, 2\), got \(2, 4\) \(layer '5'\)", message)
