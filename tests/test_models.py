"""The model zoo: every builder adapts to (1,8,8), (1,28,28) and (3,32,32) inputs, forward and backward
shapes are right, LeNet-5 has its textbook parameter count, and build_model selects by name."""
import numpy as np
import pytest

from glassnet import io, nn
from glassnet.models import MODELS, build_model, lenet5

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", sorted(MODELS))
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
    a, b, c = (build_model(name, (1, 8, 8), 10, seed=s).state_dict() for s in (7, 7, 8))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a if k.endswith("weight"))


@pytest.mark.parametrize("name", ["two_layer_net", "classic_cnn", "lenet5", "vgg_small"])
def test_zoo_model_dropout_option_adds_or_removes_the_dropout_layer(name):
    with_dropout = build_model(name, (1, 8, 8), 10, dropout=0.4)
    without = build_model(name, (1, 8, 8), 10, dropout=0.0)
    assert [m.p for m in with_dropout if isinstance(m, nn.Dropout)] == [0.4]
    assert not any(isinstance(m, nn.Dropout) for m in without)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model_survives_save_and_load(name, tmp_path):
    model = build_model(name, (1, 8, 8), 10, seed=3)
    io.save(model, tmp_path / "m.safetensors")
    loaded = io.load(tmp_path / "m.safetensors")
    x = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.eval()(x), model.eval()(x))
