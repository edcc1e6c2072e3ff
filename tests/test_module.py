"""Module machinery: parameter names, state_dict round trips and strict loading, train/eval, gradient
accumulation, summary, and weight initialisation statistics."""
import numpy as np
import pytest
import torch

from glassnet import nn
from glassnet.nn import init as gn_init


def small_cnn(rng=None):
    rng = rng or np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 2 * 2, 5, rng=rng), nn.Dropout(0.5), nn.Linear(5, 3, rng=rng),
    )


def torch_small_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(4 * 2 * 2, 5), torch.nn.Dropout(0.5), torch.nn.Linear(5, 3),
    )


# ------------------------------------------------------------------ names and state_dict
def test_state_dict_names_follow_torch_sequential_names():
    expected = [k for k in torch_small_cnn().state_dict() if not k.endswith("num_batches_tracked")]
    assert list(small_cnn().state_dict()) == expected
    assert expected[:6] == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]


def test_named_parameters_exclude_buffers_and_follow_torch_order():
    expected = [k for k, _ in torch_small_cnn().named_parameters()]
    assert [k for k, _ in small_cnn().named_parameters()] == expected
    assert [k for k, _ in small_cnn().named_buffers()] == ["1.running_mean", "1.running_var"]


def test_state_dict_shapes_equal_torch_except_linear_weights_which_are_transposed():
    ours, theirs = small_cnn().state_dict(), torch_small_cnn().state_dict()
    for k, v in ours.items():
        expected = tuple(theirs[k].shape)
        assert v.shape == (expected[::-1] if k in ("5.weight", "7.weight") else expected), k


def test_nested_sequential_names_are_dotted_paths():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1))
    assert list(model.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]


def test_load_state_dict_round_trip_copies_values_into_the_existing_arrays():
    src, dst = small_cnn(np.random.default_rng(1)), small_cnn(np.random.default_rng(2))
    arrays_before = [id(a) for a in dst.state_dict().values()]
    dst.load_state_dict({k: v.copy() for k, v in src.state_dict().items()})
    for (k, a), b in zip(dst.state_dict().items(), src.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)
        assert a is not b
    assert [id(a) for a in dst.state_dict().values()] == arrays_before


def test_load_state_dict_strict_missing_key_raises_naming_it():
    model = small_cnn()
    state = dict(model.state_dict())
    del state["1.running_var"]
    with pytest.raises(ValueError, match=r"missing keys: 1\.running_var"):
        model.load_state_dict(state)
    model.load_state_dict(state, strict=False)


def test_load_state_dict_strict_unexpected_key_raises_naming_it():
    model = small_cnn()
    state = {**model.state_dict(), "9.weight": np.zeros(2)}
    with pytest.raises(ValueError, match=r"unexpected keys: 9\.weight"):
        model.load_state_dict(state)
    model.load_state_dict(state, strict=False)


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_wrong_shape_raises_naming_key_layer_and_both_shapes(strict):
    model = small_cnn()
    state = {**model.state_dict(), "0.weight": np.zeros((4, 3, 5, 5))}
    with pytest.raises(ValueError, match=r"0\.weight: expected shape \(4, 3, 3, 3\), got \(4, 3, 5, 5\) \(layer '0'\)"):
        model.load_state_dict(state, strict=strict)


def test_failed_load_state_dict_changes_nothing():
    model = small_cnn()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: v + 1 for k, v in model.state_dict().items()}
    state["5.weight"] = np.zeros((5, 16))  # PyTorch's layout, not ours
    with pytest.raises(ValueError, match=r"5\.weight: expected shape \(16, 5\), got \(5, 16\)"):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ------------------------------------------------------------------ modes and gradients
def test_train_and_eval_propagate_to_every_nested_module():
    model = nn.Sequential(nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)), nn.Linear(2, 2))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_zero_grad_resets_every_parameter_gradient_in_place(float64):
    model = small_cnn()
    model.eval()
    out = model(np.random.default_rng(0).standard_normal((2, 3, 4, 4)))
    model.backward(np.ones_like(out))
    grads = [p.grad for p in model.parameters()]
    assert any(np.any(g != 0) for g in grads)
    model.zero_grad()
    for p, g in zip(model.parameters(), grads):
        assert p.grad is g
        np.testing.assert_array_equal(p.grad, 0.0)


def test_gradients_accumulate_across_two_backward_calls(float64):
    model = small_cnn()
    model.train()
    model[6].p = 0.0  # deterministic forward, so both passes give the same gradients
    x = np.random.default_rng(0).standard_normal((3, 3, 4, 4))
    dout = np.random.default_rng(1).standard_normal((3, 3))
    model.zero_grad()
    model(x)
    model.backward(dout)
    once = {k: p.grad.copy() for k, p in model.named_parameters()}
    model(x)
    model.backward(dout)
    for k, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[k], rtol=1e-12, err_msg=k)


def test_parameter_grad_starts_at_zero_with_the_data_shape_and_dtype():
    p = nn.Parameter(np.ones((2, 3), dtype=np.float32))
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32
    np.testing.assert_array_equal(p.grad, 0.0)


def test_backward_before_forward_raises_naming_the_layer():
    model = nn.Sequential(nn.Linear(2, 3))
    with pytest.raises(RuntimeError, match=r"layer '0' Linear\(2, 3\): backward called before forward"):
        model.backward(np.ones((1, 3)))


@pytest.mark.parametrize("train", [True, False])
def test_dropout_backward_before_forward_raises_like_every_other_layer(train):
    model = nn.Sequential(nn.Dropout(0.5)).train(train)
    with pytest.raises(RuntimeError, match=r"layer '0' Dropout\(p=0.5\): backward called before forward"):
        model.backward(np.ones((1, 3)))
    model.forward(np.ones((2, 3), np.float32))
    model.backward(np.ones((2, 3), np.float32))
    with pytest.raises(RuntimeError, match="backward called before forward"):  # the cache is used once
        model.backward(np.ones((2, 3), np.float32))


def test_load_state_dict_refuses_a_pytorch_state_dict_pointing_to_from_torch():
    """A square Linear would otherwise load its (out, in) PyTorch weight transposed without an error."""
    model = nn.Sequential(nn.Linear(3, 3))
    before = model[0].weight.data.copy()
    state = torch.nn.Sequential(torch.nn.Linear(3, 3)).state_dict()
    with pytest.raises(TypeError, match=r"'0.weight' is a torch.Tensor.*glassnet.io.from_torch"):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model[0].weight.data, before)


# ------------------------------------------------------------------ summary
def test_summary_counts_two_3x3x3_filters_with_bias_as_56_parameters():
    text = nn.Sequential(nn.Conv2d(3, 2, 3)).summary((3, 8, 8))
    assert "Conv2d" in text and "(2, 6, 6)" in text
    assert "total params 56" in text


def test_summary_lists_every_layer_with_output_shape_and_parameter_count():
    model = small_cnn()
    text = model.summary((3, 4, 4))
    rows = text.splitlines()[2:-2]
    assert len(rows) == 8
    expected = [("Conv2d", "(4, 4, 4)", "112"), ("BatchNorm2d", "(4, 4, 4)", "8"), ("ReLU", "(4, 4, 4)", "0"),
                ("MaxPool2d", "(4, 2, 2)", "0"), ("Flatten", "(16,)", "0"), ("Linear", "(5,)", "85"),
                ("Dropout", "(5,)", "0"), ("Linear", "(3,)", "18")]
    for row, (layer, shape, params) in zip(rows, expected):
        assert layer in row and shape in row and row.split()[-1] == params, row
    assert text.endswith(f"total params {112 + 8 + 85 + 18}")
    assert model.num_parameters() == sum(p.numel() for p in torch_small_cnn().parameters())


def test_summary_leaves_mode_and_running_statistics_unchanged():
    model = small_cnn()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model.summary((3, 4, 4))
    assert model.training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ------------------------------------------------------------------ initialisation
def test_default_init_is_uniform_within_one_over_sqrt_fan_in_like_torch():
    rng = np.random.default_rng(0)
    for layer, fan_in in ((nn.Linear(200, 300, rng=rng), 200), (nn.Conv2d(8, 64, (3, 5), rng=rng), 8 * 15)):
        bound = 1 / np.sqrt(fan_in)
        for p in (layer.weight.data, layer.bias.data):
            assert np.abs(p).max() <= bound
        w = layer.weight.data
        assert np.abs(w).max() > 0.99 * bound
        assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.03)
        assert abs(w.mean()) < 0.05 * bound
    torch_linear = torch.nn.Linear(200, 300)
    assert torch_linear.weight.abs().max().item() <= 1 / np.sqrt(200)


def test_he_init_has_std_sqrt_2_over_fan_in_and_zero_bias():
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(16, 64, 3, init="he", rng=rng)
    assert conv.weight.data.std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.03)
    assert abs(conv.weight.data.mean()) < 0.01
    np.testing.assert_array_equal(conv.bias.data, 0.0)
    linear = nn.Linear(400, 300, init="he", rng=rng)
    assert linear.weight.data.std() == pytest.approx(np.sqrt(2 / 400), rel=0.03)


def test_xavier_init_is_uniform_within_sqrt_6_over_fan_in_plus_fan_out_and_zero_bias():
    rng = np.random.default_rng(0)
    linear = nn.Linear(300, 200, init="xavier", rng=rng)
    limit = np.sqrt(6 / 500)
    w = linear.weight.data
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.var() == pytest.approx(2 / 500, rel=0.03)
    np.testing.assert_array_equal(linear.bias.data, 0.0)
    conv = nn.Conv2d(8, 16, 3, init="xavier", rng=rng)
    assert np.abs(conv.weight.data).max() <= np.sqrt(6 / (8 * 9 + 16 * 9))


def test_init_is_reproducible_from_a_seeded_generator_and_rejects_unknown_schemes():
    a = nn.Linear(5, 4, rng=np.random.default_rng(3)).weight.data
    b = nn.Linear(5, 4, rng=np.random.default_rng(3)).weight.data
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown init 'bogus'"):
        gn_init.init_weight_and_bias((2, 3), 2, 3, init="bogus")


def test_layers_without_bias_have_no_bias_parameter():
    assert [k for k, _ in nn.Conv2d(2, 3, 3, bias=False).named_parameters()] == ["weight"]
    assert [k for k, _ in nn.Linear(2, 3, bias=False).named_parameters()] == ["weight"]


def _small_cnn():
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=np.random.default_rng(0)), nn.BatchNorm2d(2), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 3, rng=np.random.default_rng(1)))


def test_no_grad_gives_the_same_outputs_and_keeps_no_forward_cache():
    model = _small_cnn().eval()
    x = np.random.default_rng(2).standard_normal((4, 1, 4, 4)).astype(np.float32)
    expected = model(x)
    with model.no_grad():
        out = model(x)
    assert np.array_equal(out, expected)
    assert all(m._cache is None for m in model if hasattr(m, "_take_cache"))


def test_backward_inside_no_grad_raises_naming_the_layer_and_the_setting_is_restored_after():
    model = _small_cnn()
    x = np.random.default_rng(3).standard_normal((4, 1, 4, 4)).astype(np.float32)
    with model.no_grad():
        out = model(x)
        assert not any(m.grad_enabled for m in model.modules())
        with pytest.raises(RuntimeError, match=r"layer '6' Linear.*inside no_grad"):
            model.backward(np.ones_like(out))
    assert all(m.grad_enabled for m in model.modules())
    out = model(x)
    assert model.backward(np.ones_like(out)).shape == x.shape


def test_backward_without_input_grad_gives_the_same_parameter_gradients_and_returns_none():
    x = np.random.default_rng(4).standard_normal((4, 1, 4, 4)).astype(np.float32)
    full, skip = _small_cnn().eval(), _small_cnn().eval()
    dout = np.ones((4, 3), np.float32)
    full(x)
    assert full.backward(dout).shape == x.shape
    skip(x)
    assert skip.backward(dout, need_input_grad=False) is None
    for (name, a), (_, b) in zip(full.named_parameters(), skip.named_parameters()):
        assert np.array_equal(a.grad, b.grad), name


def test_backward_without_input_grad_skips_the_layers_before_the_first_parameter_and_its_dx():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3, rng=np.random.default_rng(0)), nn.ReLU(),
                          nn.Linear(3, 2, rng=np.random.default_rng(1)))
    model(np.ones((2, 1, 4, 4), np.float32))
    assert model.backward(np.ones((2, 2), np.float32), need_input_grad=False) is None
    assert model[0]._cache is not None  # Flatten's backward never ran
    assert model[1]._cache is None and model[1].weight.grad.any()


# ------------------------------------------------------------------ fused pairs (batch norm then ReLU, ReLU then max pool)
def bn_relu_cnn():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16, 6, rng=rng), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3, rng=rng))


def _layer_by_layer(model, x, dout):
    """Output, input gradient and parameter gradients of ``model`` run one layer at a time (no fusion)."""
    for layer in model:
        x = layer.forward(x)
    out = x
    for layer in reversed(list(model)):
        dout = layer.backward(dout)
    return out, dout, {name: p.grad.copy() for name, p in model.named_parameters()}


def _fused_and_layer_by_layer(build, x, dout, kernels_name):
    """Two models from ``build()``: the first run as a Sequential (fused pairs), the second one layer at
    a time. Returns (first model, its output, its input gradient), (second model, _layer_by_layer's results)."""
    from glassnet import kernels

    with kernels.using(kernels_name):
        fused, parts = build(), build()
        out = fused(x)
        return (fused, out, fused.backward(dout)), (parts, *_layer_by_layer(parts, x, dout))


@pytest.mark.parametrize("kernels_name", ["numpy", "numba"])
@pytest.mark.parametrize("train", [True, False])
def test_sequential_runs_batch_norm_then_relu_as_one_pair_with_the_same_results(kernels_name, train, monkeypatch):
    from glassnet import functional as F

    calls = []
    for name in ("batchnorm_relu_forward", "batchnorm_relu_backward", "relu_max_pool_forward", "relu_max_pool_backward"):
        monkeypatch.setattr(F, name, lambda *a, _f=getattr(F, name), _n=name: calls.append(_n) or _f(*a))
    x = np.random.default_rng(1).standard_normal((4, 3, 4, 4)).astype(np.float32)
    dout = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    (fused, out, dx), (parts, expected, dx_parts, grads) = _fused_and_layer_by_layer(
        lambda: bn_relu_cnn().train(train), x, dout, kernels_name)
    # forward pairs from the left (BN + ReLU twice), backward from the right: the ReLU before the
    # max pool pairs with it, and its batch norm runs alone (the caches are the same either way)
    assert calls == ["batchnorm_relu_forward"] * 2 + ["batchnorm_relu_backward", "relu_max_pool_backward"]
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(dx, dx_parts, rtol=1e-5, atol=1e-6)
    for name, p in fused.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name], rtol=1e-5, atol=1e-6, err_msg=name)
    for name in ("1.running_mean", "1.running_var", "6.running_mean", "6.running_var"):
        np.testing.assert_array_equal(fused.state_dict()[name], parts.state_dict()[name])


def test_only_plain_batch_norm_then_plain_relu_fuse():
    class LoudBatchNorm(nn.BatchNorm2d):
        def forward(self, x):
            return super().forward(x) + 1

    class CappedReLU(nn.ReLU):
        def forward(self, x):
            return np.minimum(super().forward(x), 0.5)

    assert nn.BatchNorm2d(2).fuses_with(nn.ReLU()) and nn.BatchNorm1d(2).fuses_with(nn.ReLU())
    assert not LoudBatchNorm(2).fuses_with(nn.ReLU())
    assert not nn.BatchNorm2d(2).fuses_with(CappedReLU())
    assert not nn.BatchNorm2d(2).fuses_with(nn.LeakyReLU())
    assert not nn.ReLU().fuses_with(nn.BatchNorm2d(2)) and not nn.Conv2d(2, 2, 1).fuses_with(nn.ReLU())
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 2))
    out = nn.Sequential(LoudBatchNorm(2), CappedReLU())(x)
    np.testing.assert_array_equal(out, np.clip(nn.BatchNorm2d(2)(x) + 1, 0, 0.5))  # both overrides ran


def relu_pool_cnn():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, rng=rng), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, rng=rng), nn.ReLU(),
                         nn.MaxPool2d(2, 1), nn.Flatten(), nn.Linear(36, 3, rng=rng))


def relu_pool_cnn1d():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Conv1d(1, 3, 3, rng=rng), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(3, 4, 3, rng=rng), nn.ReLU(),
                         nn.MaxPool1d(2, 1), nn.Flatten(), nn.Linear(12, 3, rng=rng))


@pytest.mark.parametrize("kernels_name", ["numpy", "numba"])
@pytest.mark.parametrize("model, shape, suffix", [(relu_pool_cnn, (4, 1, 14, 14), ""), (relu_pool_cnn1d, (4, 1, 14), "1d")])
def test_sequential_runs_relu_then_max_pool_as_one_pair_with_the_same_results(kernels_name, model, shape, suffix, monkeypatch):
    from glassnet import functional as F

    calls = []
    for name in (f"relu_max_pool{suffix}_forward", f"relu_max_pool{suffix}_backward"):
        monkeypatch.setattr(F, name, lambda *a, _f=getattr(F, name), _n=name: calls.append(_n) or _f(*a))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    dout = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    (fused, out, dx), (_, expected, dx_parts, grads) = _fused_and_layer_by_layer(model, x, dout, kernels_name)
    assert calls == [f"relu_max_pool{suffix}_forward"] * 2 + [f"relu_max_pool{suffix}_backward"] * 2
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(dx, dx_parts)
    for name, p in fused.named_parameters():
        np.testing.assert_array_equal(p.grad, grads[name], err_msg=name)


@pytest.mark.parametrize("kernels_name", ["numpy", "numba"])
def test_a_residual_block_then_relu_then_max_pool_pairs_differently_each_way_with_the_same_results(kernels_name):
    """Forward pairs the residual sum with ReLU, backward pairs ReLU with the pool (the block alone):
    each pair takes the caches the other left."""
    def model():
        rng = np.random.default_rng(0)
        block = nn.Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, rng=rng), nn.BatchNorm2d(2)))
        return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=rng), block, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(8, 3, rng=rng))

    x = np.random.default_rng(1).standard_normal((3, 1, 4, 4)).astype(np.float32)
    dout = np.random.default_rng(2).standard_normal((3, 3)).astype(np.float32)
    (fused, out, dx), (_, expected, dx_parts, grads) = _fused_and_layer_by_layer(model, x, dout, kernels_name)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(dx, dx_parts, rtol=1e-5, atol=1e-6)
    for name, p in fused.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_only_plain_relu_then_plain_max_pool_fuse_and_the_pair_checks_its_input_like_the_pool():
    class CappedReLU(nn.ReLU):
        def forward(self, x):
            return np.minimum(super().forward(x), 0.5)

    class ShiftedPool(nn.MaxPool2d):
        def forward(self, x):
            return super().forward(x) + 1

    assert nn.ReLU().fuses_with(nn.MaxPool2d(2))
    assert not CappedReLU().fuses_with(nn.MaxPool2d(2)) and not nn.ReLU().fuses_with(ShiftedPool(2))
    assert nn.ReLU().fuses_with(nn.MaxPool1d(2)) and not nn.ReLU().fuses_with(nn.AvgPool2d(2))
    assert not nn.MaxPool2d(2).fuses_with(nn.ReLU())
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    out = nn.Sequential(nn.ReLU(), ShiftedPool(2))(x)
    np.testing.assert_array_equal(out, nn.MaxPool2d(2)(np.maximum(x, 0)) + 1)
    with pytest.raises(ValueError, match=r"MaxPool2d.*input spatial size \(1, 1\) is smaller than the window \(2, 2\)"):
        nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"MaxPool2d.*\(N, C, H, W\)"):
        nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(np.zeros((1, 4, 4)))


def test_backward_without_input_grad_runs_a_fused_pair_after_the_first_layer_with_parameters():
    model = small_cnn().eval()
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4)).astype(np.float32)
    model(x)
    assert model.backward(np.ones((2, 3), np.float32), need_input_grad=False) is None
    assert model[1]._cache is None and model[2]._cache is None and model[1].weight.grad.any()
    with pytest.raises(RuntimeError, match=r"layer '1' BatchNorm2d.*backward called before forward"):
        model[1].backward_fused(np.ones((2, 4, 4, 4), np.float32), model[2])


@pytest.mark.parametrize("name", ["linear", "conv", "pool", "activation", "dropout", "norm", "loss", "residual"])
def test_the_examples_in_the_layer_docstrings_run_and_print_what_they_show(name):
    import doctest
    import importlib

    module = importlib.import_module(f"glassnet.nn.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_to_dtype_casts_parameters_gradients_and_buffers_in_place_like_torch():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=np.random.default_rng(0)), nn.BatchNorm2d(2))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    assert model.to(dtype=np.float64) is model
    for name, value in model.state_dict().items():
        assert value.dtype == np.float64 and np.array_equal(value, before[name]), name
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert model[1].running_var is model.state_dict()["1.running_var"]  # the attribute follows the buffer
