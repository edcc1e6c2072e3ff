"""Optimizers against torch.optim: every update, hyper-parameter variants, dtypes, state round trips."""
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from glassnet.nn.module import Module, Parameter
from glassnet.optim import SGD, Adam, AdamW, Optimizer, RMSprop

CASES = [
    pytest.param(SGD, torch.optim.SGD, dict(lr=0.1), id="sgd-plain"),
    pytest.param(SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.1), id="sgd-weight_decay"),
    pytest.param(SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9), id="sgd-momentum"),
    pytest.param(SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3), id="sgd-momentum-dampening"),
    pytest.param(SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True), id="sgd-nesterov"),
    pytest.param(SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05),
                 id="sgd-nesterov-weight_decay"),
    pytest.param(RMSprop, torch.optim.RMSprop, dict(), id="rmsprop-defaults"),
    pytest.param(RMSprop, torch.optim.RMSprop, dict(lr=1e-3, alpha=0.9, eps=1e-6), id="rmsprop-alpha-eps"),
    pytest.param(RMSprop, torch.optim.RMSprop, dict(lr=1e-3, weight_decay=0.1), id="rmsprop-weight_decay"),
    pytest.param(RMSprop, torch.optim.RMSprop, dict(lr=1e-3, momentum=0.9), id="rmsprop-momentum"),
    pytest.param(RMSprop, torch.optim.RMSprop, dict(lr=1e-3, centered=True), id="rmsprop-centered"),
    pytest.param(RMSprop, torch.optim.RMSprop, dict(lr=1e-3, momentum=0.5, centered=True, weight_decay=0.01),
                 id="rmsprop-centered-momentum-weight_decay"),
    pytest.param(Adam, torch.optim.Adam, dict(), id="adam-defaults"),
    pytest.param(Adam, torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6), id="adam-betas-eps"),
    pytest.param(Adam, torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1), id="adam-weight_decay"),
    pytest.param(Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True), id="adam-amsgrad"),
    pytest.param(Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.05), id="adam-amsgrad-weight_decay"),
    pytest.param(AdamW, torch.optim.AdamW, dict(), id="adamw-defaults"),
    pytest.param(AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1), id="adamw-weight_decay"),
    pytest.param(AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.0), id="adamw-no-decay"),
    pytest.param(AdamW, torch.optim.AdamW, dict(lr=1e-2, betas=(0.5, 0.9), amsgrad=True), id="adamw-amsgrad"),
]

shape_lists = st.lists(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5), min_size=1, max_size=3)


# ------------------------------------------------------------------------------ helpers
def rel_err(a, b) -> float:
    """Norm-wise relative error of ``a`` against the reference ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def twin_params(shapes, rng, dtype=np.float64):
    """Equal glassnet and torch parameters of the given shapes."""
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return [Parameter(a.copy()) for a in init], [torch.tensor(a.copy(), requires_grad=True) for a in init]


def set_grads(params, tparams, rng, dtype=np.float64):
    """Give both sides the same random gradient."""
    for p, tp in zip(params, tparams):
        g = rng.standard_normal(p.data.shape).astype(dtype)
        p.grad[...] = g
        tp.grad = torch.tensor(g.copy())


def steps_against_torch(glass_cls, torch_cls, kwargs, shapes, seed, steps=20, dtype=np.float64):
    """Yield ``(params, tparams)`` after each of ``steps`` identical optimizer steps."""
    rng = np.random.default_rng(seed)
    params, tparams = twin_params(shapes, rng, dtype)
    opt, topt = glass_cls(params, **kwargs), torch_cls(tparams, **kwargs)
    for _ in range(steps):
        set_grads(params, tparams, rng, dtype)
        opt.step()
        topt.step()
        yield params, tparams


def run_steps(opt, params, grads_per_step):
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad[...] = g
        opt.step()


# ------------------------------------------------------------------------------ parity with torch
@pytest.mark.parametrize("glass_cls,torch_cls,kwargs", CASES)
@settings(max_examples=6, deadline=None)
@given(shapes=shape_lists, seed=st.integers(0, 2**32 - 1))
def test_optimizer_matches_torch_after_every_step_float64(glass_cls, torch_cls, kwargs, shapes, seed):
    for step, (params, tparams) in enumerate(steps_against_torch(glass_cls, torch_cls, kwargs, shapes, seed)):
        for p, tp in zip(params, tparams):
            assert rel_err(p.data, tp.detach().numpy()) < 1e-12, f"step {step + 1}"


@pytest.mark.parametrize("glass_cls,torch_cls,kwargs", CASES)
def test_optimizer_keeps_float32_and_tracks_torch_float32(glass_cls, torch_cls, kwargs):
    shapes = [(4, 3), (3,)]
    for params, tparams in steps_against_torch(glass_cls, torch_cls, kwargs, shapes, seed=1, dtype=np.float32):
        for p, tp in zip(params, tparams):
            assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
            assert rel_err(p.data, tp.detach().numpy()) < 1e-5
    # the optimizer made its state in float32 too, and says so in its state_dict
    opt = glass_cls(params, **kwargs)
    opt.step()
    assert all(a.dtype == np.float32 for state in opt.state for a in state.values())
    assert all(a.dtype == np.float32 for a in opt.state_dict()["arrays"].values())


@pytest.mark.parametrize("glass_cls,torch_cls,kwargs", CASES)
def test_float64_gradient_on_float32_parameter_keeps_float32(glass_cls, torch_cls, kwargs):
    p = Parameter(np.ones((3, 2), dtype=np.float32))
    p.grad = np.full((3, 2), 0.5, dtype=np.float64)
    opt = glass_cls([p], **kwargs)
    opt.step()
    opt.step()
    assert p.data.dtype == np.float32
    assert all(a.dtype == np.float32 for a in opt.state[0].values())


def test_lr_changed_between_steps_is_used_like_torch_param_group_lr():
    rng = np.random.default_rng(3)
    params, tparams = twin_params([(5, 2)], rng)
    opt, topt = Adam(params, lr=0.1), torch.optim.Adam(tparams, lr=0.1)
    for step in range(12):
        if step % 4 == 3:
            opt.lr /= 3
            topt.param_groups[0]["lr"] = opt.lr
        set_grads(params, tparams, rng)
        opt.step()
        topt.step()
        assert rel_err(params[0].data, tparams[0].detach().numpy()) < 1e-12


def test_default_hyperparameters_match_torch_defaults():
    t = [torch.zeros(2, requires_grad=True)]
    p = [Parameter(np.zeros(2))]
    for ours, theirs in ((RMSprop(p), torch.optim.RMSprop(t)), (Adam(p), torch.optim.Adam(t)),
                         (AdamW(p), torch.optim.AdamW(t))):
        for name, value in ours.hyperparameters().items():
            expected = theirs.defaults[name]
            assert (list(expected) if isinstance(expected, tuple) else expected) == value, (type(ours), name)


# ------------------------------------------------------------------------------ in-place behaviour
@pytest.mark.parametrize("glass_cls,torch_cls,kwargs", CASES)
def test_step_updates_parameter_arrays_in_place_and_leaves_grad_alone(glass_cls, torch_cls, kwargs):
    rng = np.random.default_rng(0)
    p = Parameter(rng.standard_normal((3, 4)))
    data_before, grad_before = p.data, p.grad
    p.grad[...] = rng.standard_normal((3, 4))
    g = p.grad.copy()
    w = p.data.copy()
    glass_cls([p], **kwargs).step()
    assert p.data is data_before and p.grad is grad_before
    np.testing.assert_array_equal(p.grad, g)  # weight decay must not be written into the gradient
    assert not np.array_equal(p.data, w)


def test_zero_grad_clears_every_gradient_in_place():
    params = [Parameter(np.ones((2, 2))), Parameter(np.ones(3))]
    grads = [p.grad for p in params]
    for p in params:
        p.grad[...] = 7.0
    SGD(params, lr=0.1).zero_grad()
    for p, g in zip(params, grads):
        assert p.grad is g and not p.grad.any()


def test_sgd_momentum_buffer_starts_at_first_gradient_without_dampening():
    p = Parameter(np.zeros(3))
    p.grad[...] = [1.0, -2.0, 3.0]
    opt = SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    opt.step()
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], [1.0, -2.0, 3.0])
    np.testing.assert_array_equal(p.data, [-1.0, 2.0, -3.0])


def test_adamw_decays_weights_by_lr_times_weight_decay_before_the_adam_step():
    # with a zero gradient Adam's step is zero, so only the decoupled decay moves the weights
    p = Parameter(np.full(4, 2.0))
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.data, 2.0 * (1 - 0.1 * 0.5), rtol=1e-15)


# ------------------------------------------------------------------------------ state_dict
@pytest.mark.parametrize("glass_cls,torch_cls,kwargs", CASES)
def test_state_dict_round_trip_mid_run_continues_identically(glass_cls, torch_cls, kwargs, tmp_path):
    from safetensors.numpy import load_file, save_file

    rng = np.random.default_rng(5)
    shapes = [(3, 4), (4,), (2, 1, 3)]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(16)]
    params = [Parameter(rng.standard_normal(s)) for s in shapes]
    opt = glass_cls(params, **kwargs)
    run_steps(opt, params, grads[:7])

    state = opt.state_dict()
    # arrays go to a safetensors file, scalars to JSON: no pickle anywhere
    if state["arrays"]:
        save_file(state["arrays"], str(tmp_path / "optim.safetensors"))
        arrays = load_file(str(tmp_path / "optim.safetensors"))
    else:
        arrays = {}
    restored_state = {"arrays": arrays, "scalars": json.loads(json.dumps(state["scalars"]))}

    params2 = [Parameter(p.data.copy()) for p in params]
    opt2 = glass_cls(params2) if glass_cls is not SGD else SGD(params2, lr=123.0)  # other hyper-parameters
    opt2.load_state_dict(restored_state)
    assert opt2.hyperparameters() == opt.hyperparameters()
    assert opt2.step_count == opt.step_count == 7

    run_steps(opt, params, grads[7:])
    run_steps(opt2, params2, grads[7:])
    for p, p2 in zip(params, params2):
        np.testing.assert_array_equal(p.data, p2.data)


def test_state_dict_has_documented_flat_form():
    params = [Parameter(np.ones((2, 3))), Parameter(np.ones(3))]
    opt = Adam(params, lr=0.01, amsgrad=True)
    assert opt.state_dict()["arrays"] == {}  # no state before the first step
    opt.step()
    state = opt.state_dict()
    assert set(state) == {"arrays", "scalars"}
    assert set(state["arrays"]) == {f"{i}.{n}" for i in (0, 1) for n in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}
    assert all(type(a) is np.ndarray for a in state["arrays"].values())
    assert state["scalars"] == {"optimizer": "Adam", "num_params": 2, "step": 1, "lr": 0.01,
                                "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True}
    json.dumps(state["scalars"])


def test_state_dict_arrays_are_copies_not_live_state():
    p = Parameter(np.ones(3))
    p.grad[...] = 1.0
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    saved = opt.state_dict()["arrays"]["0.momentum_buffer"].copy()
    snapshot = opt.state_dict()
    opt.step()
    np.testing.assert_array_equal(snapshot["arrays"]["0.momentum_buffer"], saved)


def test_load_state_dict_copies_arrays_and_casts_to_parameter_dtype():
    p64 = Parameter(np.ones((2, 2)))
    p64.grad[...] = 0.3
    opt64 = Adam([p64])
    opt64.step()
    state = opt64.state_dict()
    p32 = Parameter(np.ones((2, 2), dtype=np.float32))
    opt32 = Adam([p32]).load_state_dict(state)
    assert opt32.state[0]["exp_avg"].dtype == np.float32
    opt32.state[0]["exp_avg"][...] = 0
    assert state["arrays"]["0.exp_avg"].any()  # loading did not alias the caller's arrays


def _trained_sgd(shapes):
    params = [Parameter(np.ones(s)) for s in shapes]
    opt = SGD(params, lr=0.1, momentum=0.9)
    opt.step()
    return opt


def test_load_state_dict_rejects_other_parameter_count():
    state = _trained_sgd([(2, 3), (3,)]).state_dict()
    with pytest.raises(ValueError, match=r"SGD.*2 parameters.*has 1"):
        SGD([Parameter(np.ones((2, 3)))], lr=0.1, momentum=0.9).load_state_dict(state)


def test_load_state_dict_rejects_mismatched_shapes_naming_the_array():
    state = _trained_sgd([(2, 3), (3,)]).state_dict()
    opt = SGD([Parameter(np.ones((2, 3))), Parameter(np.ones(4))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"1\.momentum_buffer: expected shape \(4,\).*got \(3,\)"):
        opt.load_state_dict(state)


def test_load_state_dict_rejects_state_of_another_optimizer_class():
    state = _trained_sgd([(3,)]).state_dict()
    with pytest.raises(ValueError, match=r"saved by optimizer 'SGD', not 'Adam'"):
        Adam([Parameter(np.ones(3))]).load_state_dict(state)


def test_load_state_dict_rejects_missing_and_unknown_arrays():
    state = _trained_sgd([(3,)]).state_dict()
    state["arrays"]["0.exp_avg"] = state["arrays"].pop("0.momentum_buffer")
    with pytest.raises(ValueError, match=r"unexpected arrays: 0\.exp_avg(.|\n)*missing arrays: 0\.momentum_buffer"):
        SGD([Parameter(np.ones(3))], lr=0.1, momentum=0.9).load_state_dict(state)


def test_load_state_dict_rejects_malformed_input():
    opt = SGD([Parameter(np.ones(3))], lr=0.1)
    with pytest.raises(ValueError, match="'arrays' and 'scalars'"):
        opt.load_state_dict({"state": {}})
    state = opt.state_dict()
    del state["scalars"]["lr"]
    with pytest.raises(ValueError, match="missing hyper-parameters"):
        opt.load_state_dict(state)
    state = opt.state_dict()
    state["scalars"]["lr"] = -1.0
    with pytest.raises(ValueError, match="SGD: invalid learning rate"):
        opt.load_state_dict(state)


def test_failed_load_state_dict_changes_nothing():
    opt = _trained_sgd([(2, 3)])
    before = opt.state_dict()
    bad = opt.state_dict()
    bad["scalars"]["lr"] = 5.0
    bad["arrays"]["0.momentum_buffer"] = np.zeros((9,))
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    assert opt.state_dict()["scalars"] == before["scalars"]
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], before["arrays"]["0.momentum_buffer"])


# ------------------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("make,match", [
    (lambda p: SGD(p, lr=-0.1), r"SGD: invalid learning rate -0\.1"),
    (lambda p: SGD(p, lr=math.nan), r"SGD: learning rate must be a finite real number"),
    (lambda p: SGD(p, lr=0.1, momentum=-0.5), r"SGD: invalid momentum"),
    (lambda p: SGD(p, lr=0.1, weight_decay=-1), r"SGD: invalid weight_decay"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), r"SGD: Nesterov momentum needs momentum > 0"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), r"SGD: Nesterov.*dampening = 0"),
    (lambda p: RMSprop(p, lr=-1), r"RMSprop: invalid learning rate"),
    (lambda p: RMSprop(p, alpha=-0.1), r"RMSprop: invalid alpha"),
    (lambda p: RMSprop(p, eps=-1e-8), r"RMSprop: invalid epsilon"),
    (lambda p: RMSprop(p, momentum=-0.9), r"RMSprop: invalid momentum"),
    (lambda p: RMSprop(p, centered="yes"), r"RMSprop: centered must be True or False"),
    (lambda p: Adam(p, lr=-1e-3), r"Adam: invalid learning rate"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), r"Adam: invalid beta1 1\.0: must be in \[0\.0, 1\.0\)"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), r"Adam: invalid beta2"),
    (lambda p: Adam(p, betas=(0.9,)), r"Adam: betas must be a pair"),
    (lambda p: Adam(p, eps=-1.0), r"Adam: invalid epsilon"),
    (lambda p: Adam(p, weight_decay=-0.1), r"Adam: invalid weight_decay"),
    (lambda p: AdamW(p, betas=(0.9, 1.5)), r"AdamW: invalid beta2"),
    (lambda p: AdamW(p, lr=-1.0), r"AdamW: invalid learning rate"),
])
def test_bad_hyperparameters_raise_value_error_naming_the_optimizer(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter(np.ones(2))])


def test_bad_parameter_lists_raise():
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears more than once"):
        Adam([p, p])
    with pytest.raises(TypeError, match="not a Parameter"):
        Adam([np.ones(2)])
    with pytest.raises(TypeError, match="single array"):
        Adam(np.ones(2))

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.ones(2))

    with pytest.raises(TypeError, match=r"pass model\.parameters\(\)"):
        Adam(Net())
    assert len(Adam(Net().parameters()).params) == 1


def test_step_rejects_gradient_of_wrong_shape():
    p = Parameter(np.ones((2, 3)))
    p.grad = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"gradient shape \(3, 2\) does not match parameter shape \(2, 3\)"):
        SGD([p], lr=0.1).step()


def test_every_optimizer_is_an_optimizer():
    for cls in (SGD, RMSprop, Adam, AdamW):
        assert issubclass(cls, Optimizer)


# ------------------------------------------------------------------------------ CuPy
@pytest.mark.parametrize("glass_cls,torch_cls,kwargs", CASES)
def test_optimizer_on_cupy_matches_numpy_and_keeps_state_on_device(glass_cls, torch_cls, kwargs):
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # pragma: no cover - depends on the machine
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (4,)]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(10)]
    host = [Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    dev = [Parameter(cupy.asarray(p.data)) for p in host]
    opt_h, opt_d = glass_cls(host, **kwargs), glass_cls(dev, **kwargs)
    run_steps(opt_h, host, grads)
    run_steps(opt_d, dev, [[cupy.asarray(g) for g in gs] for gs in grads])
    for ph, pd in zip(host, dev):
        assert isinstance(pd.data, cupy.ndarray) and pd.data.dtype == np.float32
        np.testing.assert_allclose(cupy.asnumpy(pd.data), ph.data, rtol=1e-5, atol=1e-6)
    assert all(isinstance(a, cupy.ndarray) for s in opt_d.state for a in s.values())
    state = opt_d.state_dict()
    assert all(type(a) is np.ndarray for a in state["arrays"].values())
    opt_d2 = glass_cls(dev, **kwargs).load_state_dict(state)
    assert all(isinstance(a, cupy.ndarray) for s in opt_d2.state for a in s.values())


def test_sgd_arguments_after_momentum_are_keyword_only():
    # torch.optim.SGD orders them (dampening, weight_decay, nesterov); refusing positions avoids mix-ups
    with pytest.raises(TypeError):
        SGD([Parameter(np.ones(2))], 0.1, 0.9, 0.0, True)
