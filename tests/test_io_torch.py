"""PyTorch interop: glassnet -> torch gives the same function (every zoo model, float64, 1e-6),
glassnet -> torch -> glassnet is exact, torch-built Sequentials import, unsupported layers are named."""
import numpy as np
import pytest
import torch
from tests.test_io_model_file import ZOO_SHAPES, assert_same_model, eval_output, make_zoo_model, sample_input

from glassnet import io, nn
from glassnet.models import MODELS

tnn = torch.nn
torch.set_num_threads(1)


def torch_eval_output(module, x):
    module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


# ------------------------------------------------------------------------------------ glassnet -> torch
@pytest.mark.parametrize("shape", ZOO_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_to_torch_computes_the_same_outputs_for_every_zoo_model_float64(name, shape):
    model = make_zoo_model(name, shape, np.float64)
    x = sample_input(shape, batch=3)
    module = io.to_torch(model)
    assert all(p.dtype == torch.float64 for p in module.state_dict().values() if p.is_floating_point())
    np.testing.assert_allclose(torch_eval_output(module, x), eval_output(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", ZOO_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_glassnet_torch_glassnet_round_trip_is_exact_for_every_zoo_model(name, shape):
    model = make_zoo_model(name, shape, np.float64)
    back = io.from_torch(io.to_torch(model))
    assert_same_model(model, back)
    x = sample_input(shape, batch=3)
    assert np.array_equal(eval_output(back, x), eval_output(model, x))


def test_to_torch_keeps_state_dict_keys_and_transposes_linear_weights():
    model = make_zoo_model("vgg_small", (1, 8, 8), np.float64)
    ours = model.state_dict()
    theirs = {k: v for k, v in io.to_torch(model).state_dict().items() if not k.endswith("num_batches_tracked")}
    assert list(theirs) == list(ours)
    for k, v in ours.items():
        layer = model[int(k.split(".")[0])]
        expected = v.T if isinstance(layer, nn.Linear) and k.endswith("weight") else v
        assert np.array_equal(theirs[k].numpy(), expected), k


def test_to_torch_follows_float32_weights_and_the_train_mode():
    model = make_zoo_model("classic_cnn", (1, 8, 8), np.float32)
    module = io.to_torch(model.train())
    assert module.training and all(m.training for m in module.modules())
    assert {p.dtype for p in module.parameters()} == {torch.float32}
    assert not io.to_torch(model.eval()).training
    x = sample_input((1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(torch_eval_output(module, x), eval_output(model, x), rtol=1e-5, atol=1e-5)


def test_to_torch_copies_the_weights():
    model = make_zoo_model("two_layer_net", (1, 4, 4))
    module = io.to_torch(model)
    with torch.no_grad():
        module[1].weight.zero_()
    assert np.abs(model[1].weight.data).sum() > 0


def test_to_torch_maps_global_avg_pool_to_adaptive_pool_and_flatten():
    module = io.to_torch(nn.Sequential(nn.Conv2d(2, 3, 3), nn.GlobalAvgPool2d(), nn.Linear(3, 2)))
    assert [type(m) for m in module[1]] == [tnn.AdaptiveAvgPool2d, tnn.Flatten]
    assert module[1][0].output_size == 1


def test_to_torch_maps_every_layer_and_its_arguments():
    model = nn.Sequential(
        nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False), nn.BatchNorm2d(4, eps=1e-3, momentum=0.2),
        nn.LeakyReLU(0.3), nn.AvgPool2d(2, stride=1), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 3, bias=False),
        nn.BatchNorm1d(3), nn.Tanh(), nn.Dropout(0.4), nn.Sigmoid(), nn.Softmax(dim=1),
    )
    m = io.to_torch(model)
    assert (m[0].kernel_size, m[0].stride, m[0].padding, m[0].bias) == ((3, 2), (2, 1), (1, 0), None)
    assert (m[1].eps, m[1].momentum) == (1e-3, 0.2)
    assert m[2].negative_slope == 0.3 and m[9].p == 0.4 and m[11].dim == 1
    assert (m[3].kernel_size, m[3].stride, m[4].kernel_size, m[4].stride) == ((2, 2), (1, 1), (2, 2), (2, 2))
    assert m[6].bias is None and type(m[7]) is tnn.BatchNorm1d
    assert_same_model(model, io.from_torch(m))


def test_to_torch_refuses_a_linear_on_feature_maps_and_unknown_layers():
    with pytest.raises(ValueError, match="put a Flatten layer before it"):
        io.to_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(8, 2)))

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="no PyTorch equivalent"):
        io.to_torch(nn.Sequential(nn.ReLU(), Custom()))


# ------------------------------------------------------------------------------------ torch -> glassnet
def _trained_bn_stats(module, x):
    """Run a few training-mode batches so the BN running statistics are not their initial values."""
    module.train()
    with torch.no_grad():
        for i in range(3):
            module(x + i)
    return module.eval()


def test_from_torch_imports_a_torch_built_network_with_every_supported_layer():
    torch.manual_seed(0)
    module = tnn.Sequential(
        tnn.Conv2d(3, 8, 3, stride=2, padding=1), tnn.BatchNorm2d(8), tnn.LeakyReLU(0.2),
        tnn.Conv2d(8, 8, (3, 1), padding=(1, 0), bias=False), tnn.ReLU(inplace=True),
        tnn.MaxPool2d(2), tnn.AvgPool2d(2, stride=1), tnn.Tanh(),
        tnn.Sequential(tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten()),
        tnn.Linear(8, 6), tnn.BatchNorm1d(6), tnn.Sigmoid(), tnn.Dropout(0.3), tnn.Linear(6, 4), tnn.Softmax(dim=1),
    ).double()
    x = sample_input((3, 12, 12), batch=5)
    _trained_bn_stats(module, torch.from_numpy(x))
    model = io.from_torch(module)
    assert [type(m).__name__ for m in model] == [
        "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "ReLU", "MaxPool2d", "AvgPool2d", "Tanh",
        "GlobalAvgPool2d", "Linear", "BatchNorm1d", "Sigmoid", "Dropout", "Linear", "Softmax"]
    assert not model.training
    np.testing.assert_allclose(eval_output(model, x), torch_eval_output(module, x), rtol=0, atol=1e-6)
    assert np.array_equal(model[1].running_var, module[1].running_var.numpy())


def test_from_torch_turns_consecutive_adaptive_pool_and_flatten_into_one_layer():
    module = tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(2, 3)).double()
    model = io.from_torch(module)
    assert [type(m).__name__ for m in model] == ["Conv2d", "GlobalAvgPool2d", "Linear"]
    x = sample_input((1, 6, 6))
    np.testing.assert_allclose(eval_output(model, x), torch_eval_output(module, x), rtol=0, atol=1e-12)


def test_from_torch_follows_float32_and_wraps_a_single_layer():
    model = io.from_torch(tnn.Linear(3, 2))
    assert isinstance(model, nn.Sequential) and model[0].weight.dtype == np.float32
    assert model[0].weight.shape == (3, 2)
    assert model.training


def test_from_torch_nested_sequential_keeps_torch_keys():
    module = tnn.Sequential(tnn.Sequential(tnn.Linear(4, 3), tnn.ReLU()), tnn.Linear(3, 2)).double()
    model = io.from_torch(module)
    assert list(model.state_dict()) == list(module.state_dict())
    x = sample_input((4,))
    np.testing.assert_allclose(eval_output(model, x), torch_eval_output(module, x), rtol=0, atol=1e-12)


class _Custom(tnn.Module):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize("module, message", [
    (tnn.Sequential(tnn.GELU()), "no glassnet equivalent for torch.nn.modules.activation.GELU"),
    (tnn.Sequential(tnn.Conv2d(2, 2, 3, groups=2)), "groups=2"),
    (tnn.Sequential(tnn.Conv2d(2, 2, 3, dilation=2)), r"dilation=\(2, 2\)"),
    (tnn.Sequential(tnn.Conv2d(2, 2, 3, padding="same")), "padding='same'"),
    (tnn.Sequential(tnn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")), "padding_mode='reflect'"),
    (tnn.Sequential(tnn.MaxPool2d(2, ceil_mode=True)), "ceil_mode=True"),
    (tnn.Sequential(tnn.MaxPool2d(3, padding=1)), "padding=1"),
    (tnn.Sequential(tnn.MaxPool2d(2, dilation=2)), "dilation=2"),
    (tnn.Sequential(tnn.AvgPool2d(2, divisor_override=3)), "divisor_override=3"),
    (tnn.Sequential(tnn.AdaptiveAvgPool2d(2), tnn.Flatten()), "only as output_size=1 directly followed"),
    (tnn.Sequential(tnn.AdaptiveAvgPool2d(1)), "only as output_size=1 directly followed"),
    (tnn.Sequential(tnn.Flatten(start_dim=2)), "start_dim=2"),
    (tnn.Sequential(tnn.BatchNorm2d(2, track_running_stats=False)), "track_running_stats=False"),
    (tnn.Sequential(tnn.BatchNorm2d(2, momentum=None)), "momentum=None"),
    (tnn.Sequential(tnn.Dropout2d(0.5)), "Dropout2d"),
    (tnn.Sequential(tnn.ReLU(), _Custom()), "layer '1' _Custom"),
    (_Custom(), "layer '0' _Custom"),
    (tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.ReLU(), tnn.Linear(4, 2)), "put an nn.Flatten"),
    (tnn.Sequential(tnn.Sequential(tnn.Linear(2, 2), tnn.ELU())), r"layer '0\.1' ELU"),
])
def test_from_torch_refuses_unsupported_layers_by_name(module, message):
    with pytest.raises(ValueError, match=message):
        io.from_torch(module)


def test_from_torch_refuses_non_modules_and_bfloat16():
    with pytest.raises(TypeError, match="expected a torch.nn.Sequential"):
        io.from_torch({"0.weight": torch.zeros(2, 2)})
    with pytest.raises(ValueError, match="float32 or float64"):
        io.from_torch(tnn.Sequential(tnn.Linear(2, 2)).to(torch.bfloat16))
