"""Losses against PyTorch (loss value and input gradient) and their conventions at the edges:
SVM = multi_margin_loss * C, BCE clamped like PyTorch at p in {0, 1}, stable logits, huge logits."""
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_loss_matches_torch, randn, seeds, strict_floats

import glassnet.functional as F
from glassnet import nn

scales = st.sampled_from([0.1, 1.0, 10.0])


@st.composite
def classification_cases(draw):
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 7))
    seed = draw(seeds)
    scores = draw(scales) * randn(seed, n, c)
    labels = np.random.default_rng(seed + 1).integers(0, c, n)
    return scores, labels


@st.composite
def binary_cases(draw):
    """Shapes (N,) to (N, C, H, W); probabilities in (0, 1), soft targets in [0, 1], optional weights."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple))
    rng = np.random.default_rng(draw(seeds))
    weight = rng.uniform(0.1, 2.0, shape) if draw(st.booleans()) else None
    return dict(logits=draw(scales) * rng.standard_normal(shape), probs=rng.uniform(0.01, 0.99, shape),
                targets=rng.uniform(0, 1, shape), weight=weight)


def torch_weight(weight, like):
    return None if weight is None else torch.tensor(weight, dtype=like.dtype)


# ------------------------------------------------------------------ kernels
@settings(max_examples=50, deadline=None)
@given(case=classification_cases())
def test_softmax_loss_matches_torch_cross_entropy(case):
    assert_loss_matches_torch(F.softmax_loss, TF.cross_entropy, *case)


@settings(max_examples=50, deadline=None)
@given(case=classification_cases(), delta=st.sampled_from([1.0, 0.5, 2.0]))
def test_svm_loss_equals_torch_multi_margin_loss_times_class_count(case, delta):
    scores, labels = case
    c = scores.shape[1]

    def torch_svm(s, y):
        return TF.multi_margin_loss(s, y, margin=delta) * c

    assert_loss_matches_torch(partial(F.svm_loss, delta=delta), torch_svm, scores, labels)


@settings(max_examples=50, deadline=None)
@given(case=binary_cases())
def test_bce_loss_matches_torch_binary_cross_entropy(case):
    w = case["weight"]

    def torch_bce(p, t):
        return TF.binary_cross_entropy(p, t, weight=torch_weight(w, p))

    assert_loss_matches_torch(lambda p, t: F.bce_loss(p, t, None if w is None else w.astype(p.dtype)), torch_bce, case["probs"], case["targets"])


@settings(max_examples=50, deadline=None)
@given(case=binary_cases())
def test_bce_with_logits_loss_matches_torch(case):
    w = case["weight"]

    def torch_bce_logits(x, t):
        return TF.binary_cross_entropy_with_logits(x, t, weight=torch_weight(w, x))

    assert_loss_matches_torch(lambda x, t: F.bce_with_logits_loss(x, t, None if w is None else w.astype(x.dtype)),
                              torch_bce_logits, case["logits"], case["targets"])


@settings(max_examples=50, deadline=None)
@given(case=binary_cases())
def test_mse_loss_matches_torch(case):
    assert_loss_matches_torch(F.mse_loss, TF.mse_loss, case["logits"], case["probs"])


# ------------------------------------------------------------------ conventions at the edges
def test_svm_loss_is_summed_over_classes_and_averaged_over_the_batch():
    scores = np.array([[3.0, 1.0, 2.5], [0.0, 0.5, 2.0]])
    y = np.array([0, 2])
    # sample 0: max(0, 1-3+1) + max(0, 2.5-3+1) = 0.5; sample 1: max(0, 0-2+1) + max(0, 0.5-2+1) = 0
    loss, _ = F.svm_loss(scores, y)
    assert loss == pytest.approx(0.25)
    t = TF.multi_margin_loss(torch.tensor(scores), torch.tensor(y)).item()
    assert loss == pytest.approx(3 * t)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_clamps_log_at_minus_100_like_torch_for_probabilities_0_and_1(dtype):
    probs = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-50], dtype=dtype)
    targets = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0], dtype=dtype)
    with strict_floats():
        loss, dprobs = F.bce_loss(probs, targets)
    assert np.isfinite(loss) and np.all(np.isfinite(dprobs))
    assert_loss_matches_torch(F.bce_loss, TF.binary_cross_entropy, probs, targets)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_is_stable_for_logits_of_magnitude_1e3(dtype):
    logits = np.array([-1e3, -1e3, 1e3, 1e3, -3e3, 3e3, 0.0], dtype=dtype)
    targets = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 0.3], dtype=dtype)
    with strict_floats():
        loss, dlogits = F.bce_with_logits_loss(logits, targets)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    # the two confident mistakes cost 1e3 each, the two half-targets 1.5e3 each, log 2 for the zero logit
    assert loss == pytest.approx((2e3 + 3e3 + np.log(2)) / 7, rel=1e-6)
    assert_loss_matches_torch(F.bce_with_logits_loss, TF.binary_cross_entropy_with_logits, logits, targets)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_of_huge_logits_is_finite_log_sum_exp_not_log_of_softmax(dtype):
    scores = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4], [5e3, 5e3, 5e3]], dtype=dtype)
    y = np.array([2, 0, 1])
    with strict_floats():
        loss, dscores = F.softmax_loss(scores, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    # log p = s_y - logsumexp(s): 2e4, 2e4 + log 2 and log 3
    assert loss == pytest.approx((2e4 + 2e4 + np.log(2) + np.log(3)) / 3, rel=1e-6)
    assert_loss_matches_torch(F.softmax_loss, TF.cross_entropy, scores, y)


def test_losses_average_like_torch_default_mean_reduction():
    s = randn(0, 4, 3)
    y = np.array([0, 1, 2, 1])
    assert F.softmax_loss(s, y)[0] == pytest.approx(TF.cross_entropy(torch.tensor(s), torch.tensor(y)).item(), rel=1e-12)
    p, t = np.full((2, 3), 0.3), np.ones((2, 3))
    assert F.bce_loss(p, t)[0] == pytest.approx(-np.log(0.3), rel=1e-12)
    assert F.mse_loss(np.ones((2, 5)), np.zeros((2, 5)))[0] == pytest.approx(1.0)


# ------------------------------------------------------------------ modules
@settings(max_examples=50, deadline=None)
@given(case=classification_cases())
def test_cross_entropy_loss_module_matches_torch(case):
    assert_loss_matches_torch(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), *case)


@settings(max_examples=50, deadline=None)
@given(case=classification_cases(), delta=st.sampled_from([1.0, 0.3]))
def test_svm_loss_module_equals_torch_multi_margin_loss_module_times_class_count(case, delta):
    scores, labels = case
    mml = torch.nn.MultiMarginLoss(margin=delta)
    assert_loss_matches_torch(nn.SVMLoss(delta), lambda s, y: mml(s, y) * scores.shape[1], scores, labels)


@settings(max_examples=50, deadline=None)
@given(case=binary_cases())
def test_bce_loss_module_matches_torch(case):
    assert_loss_matches_torch(nn.BCELoss(), torch.nn.BCELoss(), case["probs"], case["targets"])


@settings(max_examples=50, deadline=None)
@given(case=binary_cases())
def test_bce_with_logits_loss_module_matches_torch(case):
    assert_loss_matches_torch(nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), case["logits"], case["targets"])


@settings(max_examples=50, deadline=None)
@given(case=binary_cases())
def test_mse_loss_module_matches_torch(case):
    assert_loss_matches_torch(nn.MSELoss(), torch.nn.MSELoss(), case["logits"], case["probs"])


def test_weighted_bce_modules_match_torch_weighted_losses():
    w = np.random.default_rng(0).uniform(0.5, 2, (3, 4))
    p, t, x = np.random.default_rng(1).uniform(0.05, 0.95, (3, 4)), np.ones((3, 4)) * 0.25, randn(2, 3, 4)
    assert_loss_matches_torch(nn.BCELoss(weight=w), torch.nn.BCELoss(weight=torch.tensor(w)), p, t)
    assert_loss_matches_torch(nn.BCEWithLogitsLoss(weight=w), torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w)), x, t)


def test_loss_modules_accept_integer_label_lists_and_bool_like_targets():
    loss, dscores = nn.CrossEntropyLoss()(randn(0, 2, 3), [0, 2])
    assert np.isfinite(loss) and dscores.shape == (2, 3)
    loss, dlogits = nn.BCEWithLogitsLoss()(randn(0, 4), [0, 1, 1, 0])
    assert np.isfinite(loss) and dlogits.dtype == np.float64


# ------------------------------------------------------------------ bad input: errors name the layer and both shapes
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
