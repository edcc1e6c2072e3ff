"""The model zoo: every image builder adapts to (1,8,8), (1,28,28) and (3,32,32) inputs and the signal
builder (cnn1d) to (1,16), (3,40) and (2,101) signals, forward and backward shapes are right, LeNet-5 and
ResNet-20 have their textbook parameter counts, and build_model selects by name."""
import numpy as np
import pytest

from glassnet import io, nn
from glassnet.models import MODELS, SIGNAL_MODELS, build_model, cnn1d, lenet5, resnet20

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
SIGNAL_SHAPES = [(1, 16), (3, 40), (2, 101)]
CASES = [pytest.param(name, shape, id=f"{name}-{'x'.join(map(str, shape))}") for name in sorted(MODELS)
         for shape in (SIGNAL_SHAPES if name in SIGNAL_MODELS else SHAPES)]


def small_shape(name):
    return (1, 16) if name in SIGNAL_MODELS else (1, 8, 8)


@pytest.mark.parametrize("name, shape", CASES)
def test_every_zoo_model_builds_and_runs_forward_backward_with_right_shapes(name, shape):
    model = build_model(name, shape, 10, seed=0)
    assert isinstance(model, nn.Sequential)
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    scores = model.train().forward(x)
    assert scores.shape == (2, 10)
    assert scores.dtype == np.float32 and np.all(np.isfinite(scores))
    model.zero_grad()
    dx = model.backward(np.ones_like(scores) / 2)
    assert dx.shape == x.shape
    for pname, p in model.named_parameters():
        assert p.grad.shape == p.data.shape, pname
        assert np.all(np.isfinite(p.grad)), pname
    assert any(np.any(p.grad != 0) for p in model.parameters())


def test_lenet5_on_1x28x28_has_61706_parameters():
    assert lenet5((1, 28, 28), 10).num_parameters() == 61_706


def test_resnet20_on_3x32x32_has_the_0_27m_parameters_of_he_et_al():
    model = resnet20((3, 32, 32), 10)
    assert model.num_parameters() == 272_474
    blocks = [m for m in model if isinstance(m, nn.Residual)]
    assert len(blocks) == 9 and sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 21  # 19 + 2 projections
    assert [b.shortcut is not None for b in blocks] == [False] * 3 + [True, False, False] * 2
    assert model(np.zeros((2, 3, 32, 32), dtype=np.float32)).shape == (2, 10)


def test_resnet20_state_dict_names_follow_the_residual_attributes():
    keys = list(resnet20((3, 32, 32), 10).state_dict())
    assert "3.body.0.weight" in keys and "9.shortcut.0.weight" in keys and "9.shortcut.1.running_var" in keys


def test_cnn1d_uses_1d_layers_and_pools_down_to_global_average():
    model = cnn1d((2, 64), 5)
    kinds = {type(m).__name__ for m in model}
    assert {"Conv1d", "BatchNorm1d", "MaxPool1d", "GlobalAvgPool1d"} <= kinds
    assert model(np.zeros((3, 2, 64), dtype=np.float32)).shape == (3, 5)


@pytest.mark.parametrize("name, shape, message", [
    ("resnet20", (2, 50), r"resnet20 takes images of shape \(C, H, W\), got input shape \(2, 50\) \(signals \(C, L\) go to cnn1d\)"),
    ("classic_cnn", (2, 50), "classic_cnn takes images"),
    ("cnn1d", (1, 8, 8), r"cnn1d takes signals of shape \(C, L\), got input shape \(1, 8, 8\)"),
])
def test_zoo_model_given_the_wrong_kind_of_input_says_what_it_takes(name, shape, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, shape, 10)


def test_lenet5_on_3x32x32_uses_unpadded_c1_as_in_the_paper():
    model = lenet5((3, 32, 32), 10)
    assert tuple(model[0].padding) == (0, 0)
    assert model(np.zeros((1, 3, 32, 32), dtype=np.float32)).shape == (1, 10)


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown model 'resnet9000'"):
        build_model("resnet9000", (1, 8, 8), 10)


def test_build_model_respects_num_classes():
    assert build_model("classic_cnn", (1, 8, 8), 3)(np.zeros((4, 1, 8, 8), dtype=np.float32)).shape == (4, 3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model_initial_weights_are_a_function_of_the_seed(name):
    a, b, c = (build_model(name, small_shape(name), 10, seed=s).state_dict() for s in (7, 7, 8))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a if k.endswith("weight"))


@pytest.mark.parametrize("name", ["two_layer_net", "classic_cnn", "lenet5", "vgg_small", "cnn1d"])
def test_zoo_model_dropout_option_adds_or_removes_the_dropout_layer(name):
    with_dropout = build_model(name, small_shape(name), 10, dropout=0.4)
    without = build_model(name, small_shape(name), 10, dropout=0.0)
    assert [m.p for m in with_dropout if isinstance(m, nn.Dropout)] == [0.4]
    assert not any(isinstance(m, nn.Dropout) for m in without)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model_survives_save_and_load(name, tmp_path):
    model = build_model(name, small_shape(name), 10, seed=3)
    io.save(model, tmp_path / "m.safetensors")
    loaded = io.load(tmp_path / "m.safetensors")
    x = np.random.default_rng(1).standard_normal((3, *small_shape(name))).astype(np.float32)
    np.testing.assert_array_equal(loaded.eval()(x), model.eval()(x))
