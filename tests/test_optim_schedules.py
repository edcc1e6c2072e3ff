"""Learning-rate schedules against torch.optim.lr_scheduler and a closed-form warm-up reference."""
import json
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.nn.module import Parameter
from glassnet.optim import SGD, Adam, CosineLR, StepLR


def glass_sgd(lr):
    return SGD([Parameter(np.zeros(1))], lr=lr)


def torch_sgd(lr):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def lrs_over_epochs(sched, epochs):
    """The rate in force at epochs 0 .. epochs-1 (checking the optimizer got it, too)."""
    out = []
    for _ in range(epochs):
        assert sched.optimizer.lr == sched.get_last_lr()
        out.append(sched.get_last_lr())
        sched.step()
    return np.array(out)


def torch_lrs_over_epochs(sched, epochs):
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimizer.step() before lr_scheduler.step()"
        for _ in range(epochs):
            out.append(sched.get_last_lr()[0])
            sched.optimizer.step()
            sched.step()
    return np.array(out)


def assert_same_rates(ours, theirs, base_lr):
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13 * base_lr)


# ------------------------------------------------------------------------------ StepLR
@pytest.mark.parametrize("step_size,gamma", [(1, 0.5), (3, 0.1), (7, 0.9), (10, 1.0)])
def test_steplr_matches_torch_steplr(step_size, gamma):
    ours = lrs_over_epochs(StepLR(glass_sgd(0.3), step_size, gamma), 40)
    theirs = torch_lrs_over_epochs(torch.optim.lr_scheduler.StepLR(torch_sgd(0.3), step_size, gamma), 40)
    assert_same_rates(ours, theirs, 0.3)


def test_steplr_closed_form_values():
    sched = StepLR(glass_sgd(1.0), step_size=2, gamma=0.1)
    np.testing.assert_allclose(lrs_over_epochs(sched, 6), [1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-15)


# ------------------------------------------------------------------------------ CosineLR
@pytest.mark.parametrize("T_max,eta_min", [(1, 0.0), (5, 0.0), (10, 1e-3), (17, 0.05)])
def test_cosine_without_warmup_matches_torch_cosine_annealing_including_past_T_max(T_max, eta_min):
    epochs = 3 * T_max + 2
    ours = lrs_over_epochs(CosineLR(glass_sgd(0.2), T_max, eta_min=eta_min), epochs)
    theirs = torch_lrs_over_epochs(
        torch.optim.lr_scheduler.CosineAnnealingLR(torch_sgd(0.2), T_max, eta_min=eta_min), epochs)
    assert_same_rates(ours, theirs, 0.2)


def warmup_cosine_reference(epoch, base_lr, T_max, eta_min, W, f):
    """Independent reference: linspace warm-up, then cosine annealing over the remaining epochs."""
    if epoch < W:
        return np.linspace(f * base_lr, base_lr, W + 1)[epoch]
    progress = (epoch - W) / (T_max - W)
    return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * progress))


@settings(max_examples=40, deadline=None)
@given(
    T_max=st.integers(2, 40),
    warm_fraction=st.floats(0, 0.95),
    f=st.floats(0.01, 1.0),
    base_lr=st.floats(1e-4, 1.0),
    eta_ratio=st.floats(0, 0.5),
)
def test_cosine_with_warmup_matches_closed_form_reference(T_max, warm_fraction, f, base_lr, eta_ratio):
    W = min(int(warm_fraction * T_max), T_max - 1)
    eta_min = eta_ratio * base_lr
    sched = CosineLR(glass_sgd(base_lr), T_max, eta_min=eta_min, warmup_epochs=W, warmup_start_factor=f)
    ours = lrs_over_epochs(sched, T_max + 1)
    ref = [warmup_cosine_reference(e, base_lr, T_max, eta_min, W, f) for e in range(T_max + 1)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("T_max,W,f,eta_min", [(10, 3, 0.1, 0.0), (12, 4, 0.25, 0.01), (20, 1, 0.5, 0.0)])
def test_cosine_with_warmup_matches_torch_linear_then_cosine_sequence(T_max, W, f, eta_min):
    topt = torch_sgd(0.5)
    tsched = torch.optim.lr_scheduler.SequentialLR(
        topt,
        [torch.optim.lr_scheduler.LinearLR(topt, start_factor=f, total_iters=W),
         torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=T_max - W, eta_min=eta_min)],
        milestones=[W],
    )
    ours = lrs_over_epochs(CosineLR(glass_sgd(0.5), T_max, eta_min, warmup_epochs=W, warmup_start_factor=f), T_max + 1)
    assert_same_rates(ours, torch_lrs_over_epochs(tsched, T_max + 1), 0.5)


def test_cosine_warmup_starts_at_start_factor_peaks_at_base_and_ends_at_eta_min():
    opt = glass_sgd(0.1)
    sched = CosineLR(opt, T_max=10, eta_min=1e-4, warmup_epochs=4, warmup_start_factor=0.2)
    assert opt.lr == pytest.approx(0.02, rel=1e-15)  # construction sets epoch 0's rate
    lrs = lrs_over_epochs(sched, 11)
    assert np.all(np.diff(lrs[:5]) > 0) and lrs[4] == pytest.approx(0.1, rel=1e-15)
    assert np.all(np.diff(lrs[4:]) < 0) and lrs[10] == pytest.approx(1e-4, rel=1e-12)


# ------------------------------------------------------------------------------ schedules drive the optimizer
def test_steplr_drives_sgd_exactly_like_torch_steplr_over_several_epochs():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3))
    p, tp = Parameter(w0.copy()), torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    sched, tsched = StepLR(opt, 2, 0.5), torch.optim.lr_scheduler.StepLR(topt, 2, 0.5)
    for _epoch in range(6):
        for _batch in range(3):
            g = rng.standard_normal((4, 3))
            p.grad[...] = g
            tp.grad = torch.tensor(g.copy())
            opt.step()
            topt.step()
        sched.step()
        tsched.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------------------------ state_dict
@pytest.mark.parametrize("make", [
    lambda opt: StepLR(opt, step_size=3, gamma=0.5),
    lambda opt: CosineLR(opt, T_max=12, eta_min=1e-3, warmup_epochs=3, warmup_start_factor=0.3),
])
def test_scheduler_state_dict_round_trip_mid_run_continues_identically(make):
    opt = glass_sgd(0.4)
    sched = make(opt)
    for _ in range(5):
        sched.step()
    state = json.loads(json.dumps(sched.state_dict()))

    opt2 = Adam([Parameter(np.zeros(1))], lr=7.0)  # another base rate: the state restores it
    sched2 = make(opt2)
    sched2.load_state_dict(state)
    assert opt2.lr == opt.lr and sched2.get_last_lr() == sched.get_last_lr()
    np.testing.assert_array_equal(lrs_over_epochs(sched2, 10), lrs_over_epochs(sched, 10))


def test_scheduler_load_restores_arguments_and_rejects_other_schedules():
    sched = StepLR(glass_sgd(0.1), step_size=4, gamma=0.3)
    other = StepLR(glass_sgd(0.1), step_size=1)
    other.load_state_dict(sched.state_dict())
    assert (other.step_size, other.gamma, other.base_lr) == (4, 0.3, 0.1)
    with pytest.raises(ValueError, match=r"CosineLR\.load_state_dict: the state was saved by 'StepLR'"):
        CosineLR(glass_sgd(0.1), T_max=5).load_state_dict(sched.state_dict())
    bad = sched.state_dict()
    del bad["gamma"]
    with pytest.raises(ValueError, match="missing keys"):
        other.load_state_dict(bad)


# ------------------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("make,match", [
    (lambda o: StepLR(o, step_size=0), "StepLR: step_size must be a positive integer"),
    (lambda o: StepLR(o, step_size=2.5), "StepLR: step_size must be a positive integer"),
    (lambda o: StepLR(o, step_size=2, gamma=-0.1), "StepLR: invalid gamma"),
    (lambda o: CosineLR(o, T_max=0), r"CosineLR: T_max \(0\) must exceed warmup_epochs"),
    (lambda o: CosineLR(o, T_max=5, warmup_epochs=5), r"CosineLR: T_max \(5\) must exceed warmup_epochs \(5\)"),
    (lambda o: CosineLR(o, T_max=5, warmup_epochs=-1), "CosineLR: warmup_epochs must be a non-negative integer"),
    (lambda o: CosineLR(o, T_max=5, eta_min=-1.0), "CosineLR: invalid eta_min"),
    (lambda o: CosineLR(o, T_max=5, warmup_epochs=2, warmup_start_factor=0.0), "CosineLR: invalid warmup_start_factor"),
    (lambda o: CosineLR(o, T_max=5, warmup_epochs=2, warmup_start_factor=1.5), "CosineLR: invalid warmup_start_factor"),
])
def test_bad_schedule_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make(glass_sgd(0.1))


def test_schedule_needs_an_optimizer_with_lr():
    with pytest.raises(TypeError, match="optimizer with an 'lr' attribute"):
        StepLR(object(), step_size=1)


def test_cosine_extend_stretches_the_annealing_from_the_current_epoch_and_sets_the_rate():
    from glassnet.nn import Parameter
    from glassnet.optim import SGD, CosineLR

    opt = SGD([Parameter(np.zeros(2))], lr=1.0)
    sched = CosineLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    sched.extend(20)
    assert sched.T_max == 20
    assert opt.lr == pytest.approx(0.5 * (1 + np.cos(np.pi * 4 / 20)))
    with pytest.raises(ValueError, match="T_max"):
        sched.extend(0)
