"""The verdict rules of every experiment on synthetic numbers (no training), and the shared helpers.

For each experiment: numbers that satisfy the claim give "holds", numbers that contradict every
check give "does not hold", and breaking one check of the good numbers gives "holds partly".
"""
import copy

import numpy as np
import pytest

from glassnet import nn
from glassnet.experiments import EXPERIMENTS, get
from glassnet.experiments.common import (
    VERDICTS,
    Check,
    Context,
    OneHotTargets,
    fmt,
    judge,
    steps_to_reach,
    subset,
)
from glassnet.data import ArrayDataset
from glassnet.models import mlp

STAGES = get("pooling").STAGES

# experiment -> (numbers for which the claim holds, numbers against every check, {key: value} breaking one check)
CASES = {
    "vanishing": (
        {"ratio_init_sigmoid": 1e-6, "shrinking_pairs_sigmoid": 1.0, "shrink_per_layer_sigmoid": 0.25,
         "mean_sigma_prime_init": 0.23, "ratio_init_relu": 0.7, "ratio_trained_sigmoid": 3e-6, "ratio_trained_relu": 2.0},
        {"ratio_init_sigmoid": 0.5, "shrinking_pairs_sigmoid": 0.3, "shrink_per_layer_sigmoid": 1.1,
         "mean_sigma_prime_init": 0.23, "ratio_init_relu": 1e-4, "ratio_trained_sigmoid": 0.5, "ratio_trained_relu": 50.0},
        {"ratio_init_relu": 20.0},
    ),
    "ce_vs_mse": (
        {"delta_ratio_init": 40.0, "mean_sigma_prime_output_init": 0.01, "val_acc_ce": [0.5, 0.8], "val_acc_mse": [0.1, 0.1],
         "steps_to_target_ce": 42, "steps_to_target_mse": None},
        {"delta_ratio_init": 1.0, "mean_sigma_prime_output_init": 0.25, "val_acc_ce": [0.1, 0.8], "val_acc_mse": [0.5, 0.9],
         "steps_to_target_ce": 42, "steps_to_target_mse": 21},
        {"steps_to_target_mse": 63},  # MSE only 1.5x slower: not 2x
    ),
    "svm_vs_softmax": (
        {"example_scores": [10.0, 9.0, 9.0], "example_hinge": 0.0, "example_softmax": 0.55, "example_scales": [1, 10],
         "example_softmax_scaled": [0.55, 9e-5], "train_zero_loss_svm": 0.9, "train_zero_loss_softmax": 0.0,
         "train_min_loss_softmax": 1e-3, "test_acc_svm": 0.95, "test_acc_softmax": 0.94},
        {"example_scores": [10.0, 9.0, 9.0], "example_hinge": 0.5, "example_softmax": 0.55, "example_scales": [1, 10],
         "example_softmax_scaled": [0.55, 9e-5], "train_zero_loss_svm": 0.1, "train_zero_loss_softmax": 0.0,
         "train_min_loss_softmax": 1e-3, "test_acc_svm": 0.80, "test_acc_softmax": 0.94},
        {"train_zero_loss_softmax": 0.2},  # a satisfied softmax would contradict the claim
    ),
    "l1_vs_l2": (
        {"zero_threshold": 1e-3, "sparsity_l1": 0.4, "sparsity_l2": 0.01, "sparsity_none": 0.004, "mean_abs_w_l2": 0.05, "mean_abs_w_none": 0.09,
         "l2_step_factor_measured": 0.997, "l2_step_factor_formula": 0.997, "l2_step_factor_max_dev": 1e-8,
         "l1_step_formula": 3e-4, "l1_step_max_dev": 1e-9},
        {"zero_threshold": 1e-3, "sparsity_l1": 0.05, "sparsity_l2": 0.2, "sparsity_none": 0.004, "mean_abs_w_l2": 0.09, "mean_abs_w_none": 0.09,
         "l2_step_factor_measured": 0.99, "l2_step_factor_formula": 0.997, "l2_step_factor_max_dev": 7e-3,
         "l1_step_formula": 3e-4, "l1_step_max_dev": 1e-2},
        {"mean_abs_w_l2": 0.085},  # L2 hardly shrinks the weights
    ),
    "dropout": (
        {"gap_plain": 0.10, "gap_dropout": 0.05, "loss_gap_plain": 0.4, "loss_gap_dropout": 0.2,
         "mean_train_acc_plain": 1.0, "mean_test_acc_plain": 0.9, "mean_test_acc_dropout": 0.93},
        {"gap_plain": 0.01, "gap_dropout": 0.05, "loss_gap_plain": 0.4, "loss_gap_dropout": 0.5,
         "mean_train_acc_plain": 0.91, "mean_test_acc_plain": 0.9, "mean_test_acc_dropout": 0.9},
        {"loss_gap_dropout": 0.39},
    ),
    "batchnorm": (
        {"best_steps_plain": 105, "best_steps_bn": 42, "max_good_lr_plain": 0.01, "max_good_lr_bn": 0.1},
        {"best_steps_plain": 42, "best_steps_bn": 105, "max_good_lr_plain": 0.1, "max_good_lr_bn": 0.1},
        {"max_good_lr_bn": 0.02},
    ),
    "relu_sparsity": (
        {"mean_active_sigmoid": 0.5, "mean_zero_sigmoid": 0.0, "mean_active_relu": 0.2, "mean_zero_relu": 0.8,
         "active_relu": [0.2, 0.2]},
        {"mean_active_sigmoid": 0.9, "mean_zero_sigmoid": 0.0, "mean_active_relu": 0.95, "mean_zero_relu": 0.05,
         "active_relu": [0.95, 0.95]},
        {"mean_active_relu": 0.4, "active_relu": [0.4, 0.4]},  # sparser than sigmoid, outside 15-30 %
    ),
    "svm_on_features": (
        {"softmax_test_acc": 0.95, "svm_test_acc": 0.945, "raw_pixel_svm_test_acc": 0.96},
        {"softmax_test_acc": 0.95, "svm_test_acc": 0.80, "raw_pixel_svm_test_acc": 0.96},
        None,  # a single check: no "partly"
    ),
    "fc_as_conv": (
        {"fc_vs_full_conv_max_diff": 1e-16, "fc_params": 1168, "full_conv_params": 1168, "vgg16_fc6": 102764544,
         "vgg16_fc6_as_conv": 102764544, "sliding_conv_vs_fc_per_window_max_diff": 1e-16,
         "conv1x1_vs_fc_per_position_max_diff": 0.0, "vgg16_head_ratio": 241.0, "vgg16_fc_head": 123642856,
         "vgg16_fc_head_share": 0.89, "vgg16_total": 138357544, "vgg16_gap_head": 513000},
        {"fc_vs_full_conv_max_diff": 0.1, "fc_params": 1168, "full_conv_params": 1168, "vgg16_fc6": 102764544,
         "vgg16_fc6_as_conv": 102764544, "sliding_conv_vs_fc_per_window_max_diff": 0.1,
         "conv1x1_vs_fc_per_position_max_diff": 0.1, "vgg16_head_ratio": 2.0, "vgg16_fc_head": 1026000,
         "vgg16_fc_head_share": 0.1, "vgg16_total": 10260000, "vgg16_gap_head": 513000},
        {"conv1x1_vs_fc_per_position_max_diff": 1e-3},
    ),
    "pooling": (
        {"feature_change": dict(zip(STAGES, ([0, 0.8, 1.0], [0, 0.5, 0.8], [0, 0.55, 0.85], [0, 0.08, 0.1], [0, 0.09, 0.2]))),
         "test_acc_max": [0.94, 0.5, 0.2], "test_acc_mean": [0.9, 0.5, 0.2]},
        {"feature_change": dict(zip(STAGES, ([0, 0.5, 1.0], [0, 0.6, 0.8], [0, 0.7, 0.85], [0, 0.9, 0.1], [0, 0.9, 0.2]))),
         "test_acc_max": [0.8, 0.5, 0.2], "test_acc_mean": [0.9, 0.5, 0.2]},
        {"test_acc_max": [0.85, 0.5, 0.2]},
    ),
    "cross_correlation": (
        {"vs_correlate2d_max_diff": 1e-15, "vs_convolve2d_max_diff": 6.7, "vs_convolve2d_flipped_kernel_max_diff": 1e-15,
         "multichannel_vs_flipped_convolve2d_max_diff": 7e-15},
        {"vs_correlate2d_max_diff": 6.7, "vs_convolve2d_max_diff": 1e-15, "vs_convolve2d_flipped_kernel_max_diff": 6.7,
         "multichannel_vs_flipped_convolve2d_max_diff": 5.0},
        {"vs_convolve2d_max_diff": 0.0},  # a symmetric kernel could not tell the two apart
    ),
}


def test_every_experiment_has_verdict_cases():
    assert set(CASES) == set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_verdict_holds_on_numbers_that_satisfy_the_claim(name):
    good, _, _ = CASES[name]
    v = get(name).verdict(good)
    assert v.label == "holds", [c.text for c in v.checks if not c.passed]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_verdict_does_not_hold_on_numbers_against_every_check(name):
    _, bad, _ = CASES[name]
    v = get(name).verdict(bad)
    assert v.label == "does not hold", [c.text for c in v.checks if c.passed]


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if CASES[n][2] is not None])
def test_verdict_holds_partly_when_one_check_breaks(name):
    good, _, change = CASES[name]
    numbers = {**copy.deepcopy(good), **change}
    assert get(name).verdict(numbers).label == "holds partly"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_check_texts_quote_the_numbers(name):
    good, _, _ = CASES[name]
    for c in get(name).verdict(good).checks:
        assert any(ch.isdigit() for ch in c.text), c.text


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_module_states_its_claim(name):
    module = get(name)
    assert module.__doc__.lstrip().startswith("Claim:")
    assert module.TITLE and module.CLAIM
    assert callable(module.run) and callable(module.headline)
    assert module.headline(CASES[name][0])


def test_judge_maps_passed_checks_to_the_three_verdicts():
    yes, no = Check("a", True), Check("b", False)
    assert judge([yes, yes]).label == "holds"
    assert judge([no, no]).label == "does not hold"
    assert judge([yes, no]).label == "holds partly"
    assert {judge(c).label for c in ([yes], [no], [yes, no])} == set(VERDICTS)
    with pytest.raises(ValueError):
        judge([])


def test_unknown_experiment_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        get("nope")


def test_context_streams_depend_on_seed_name_and_tags_only():
    a, b = Context("vanishing", seed=3), Context("vanishing", seed=3, quick=True)
    assert a.rng("x").integers(1 << 30) == b.rng("x").integers(1 << 30)
    assert a.seed_for("x", 1) == b.seed_for("x", 1)
    assert a.seed_for("x") != a.seed_for("y")
    assert a.seed_for("x") != Context("dropout", seed=3).seed_for("x")
    assert a.seed_for("x") != Context("vanishing", seed=4).seed_for("x")
    assert a.pick(1, 2) == 2 and b.pick(1, 2) == 1


def test_steps_to_reach_counts_points_times_steps_per_point():
    assert steps_to_reach([0.2, 0.5, 0.9, 0.95], 0.9, 21) == 63
    assert steps_to_reach([0.2, 0.5], 0.9, 21) is None
    assert steps_to_reach([0.95], 0.9) == 1


def test_one_hot_targets_wraps_an_elementwise_loss_for_integer_labels(float64):
    p = np.array([[0.9, 0.1, 0.2], [0.3, 0.6, 0.1]])
    loss, d = OneHotTargets(nn.MSELoss(), 3)(p, np.array([0, 1]))
    ref_loss, ref_d = nn.MSELoss()(p, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    assert loss == pytest.approx(ref_loss)
    np.testing.assert_allclose(d, ref_d)


def test_mlp_builds_the_layers_asked_for():
    model = mlp(64, [32, 16], 10, activation="sigmoid", batchnorm=True, dropout=0.5, input_dropout=0.2,
                rng=np.random.default_rng(0), output=nn.Sigmoid())
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Flatten", "Dropout", "Linear", "BatchNorm1d", "Sigmoid", "Dropout",
                     "Linear", "BatchNorm1d", "Sigmoid", "Dropout", "Linear", "Sigmoid"]
    assert [type(m).__name__ for m in mlp(64, [], 10)] == ["Flatten", "Linear"]


def test_subset_is_stratified_and_reproducible():
    y = np.repeat(np.arange(10), 30)
    ds = ArrayDataset(np.arange(300.0)[:, None], y)
    a, b = subset(ds, 50, seed=1), subset(ds, 50, seed=1)
    assert len(a) == 50
    np.testing.assert_array_equal(a.x, b.x)
    assert np.bincount(a.y, minlength=10).tolist() == [5] * 10


def test_fmt_writes_numbers_for_prose():
    assert fmt(None) == "never"
    assert fmt(1234567) == "1,234,567"
    assert fmt(1.83e-6) == "1.83e-06"
    assert fmt(0.7009) == "0.701"


def test_pooling_shift_moves_images_and_fills_the_border():
    shift = get("pooling").shift
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    down = shift(x, 1, 0, fill=-1.0)
    np.testing.assert_array_equal(down[0, 0, 1:], x[0, 0, :-1])
    assert (down[0, 0, 0] == -1).all()
    left = shift(x, 0, -2, fill=0.0)
    np.testing.assert_array_equal(left[0, 0, :, :2], x[0, 0, :, 2:])
    assert (left[0, 0, :, 2:] == 0).all()
    np.testing.assert_array_equal(shift(x, 0, 0, fill=9.0), x)


def test_vgg16_parameter_counts_match_the_published_total():
    counts = get("fc_as_conv").vgg16_counts()
    assert counts["trunk"] == 14_714_688
    assert counts["trunk"] + counts["fc6"] + counts["fc7"] + counts["fc8"] == 138_357_544
    assert counts["fc6"] == counts["fc6_as_conv"] == 102_764_544
    assert counts["gap_head"] == 513_000
