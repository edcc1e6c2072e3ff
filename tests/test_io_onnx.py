"""ONNX export: every zoo model runs in onnxruntime with glassnet's eval outputs (float32, 1e-5) on
two batch sizes through one dynamic-batch graph; input shapes, unsupported layers and atomic writes;
the ``glassnet export`` command."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tests.test_io_model_file import ZOO_CASES, eval_output, make_zoo_model, sample_input

from glassnet import io, nn
from glassnet.cli import main
from glassnet.io.onnx_export import infer_input_shape

TOL = 1e-5


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(sess, x):
    return sess.run(["output"], {"input": np.asarray(x, np.float32)})[0]


@pytest.mark.parametrize("name, shape", ZOO_CASES)
def test_every_zoo_model_runs_in_onnxruntime_like_glassnet(tmp_path, name, shape):
    model = make_zoo_model(name, shape, np.float32)
    path = tmp_path / "model.onnx"
    io.to_onnx(model, path, input_shape=shape)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = session(path)
    for batch in (1, 5):  # one graph, two batch sizes: the batch axis is dynamic
        x = sample_input(shape, batch=batch, dtype=np.float32, seed=batch)
        expected = eval_output(model, x)
        got = run_onnx(sess, x)
        assert got.shape == expected.shape == (batch, 10)
        assert np.abs(got - expected).max() <= TOL


def test_graph_has_a_named_dynamic_batch_axis_and_opset_17(tmp_path):
    proto = io.to_onnx(make_zoo_model("lenet5", (1, 8, 8), np.float32), tmp_path / "m.onnx", input_shape=(1, 8, 8))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert (inp.name, dims) == ("input", ["N", 1, 8, 8])
    assert out.name == "output" and [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 10]
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    assert {i.name for i in proto.graph.initializer} == set(make_zoo_model("lenet5", (1, 8, 8)).state_dict())


def _all_layers_model():
    """Every exportable layer, in float64, with a Linear right after a pooling layer (no Flatten)."""
    from glassnet import backend

    with backend.default_dtype(np.float64):
        model = nn.Sequential(
            nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0)), nn.BatchNorm2d(4, eps=1e-3),
            nn.LeakyReLU(0.3), nn.AvgPool2d(2, stride=1), nn.Sequential(nn.MaxPool2d(2), nn.Tanh()),
            nn.Linear(4 * 2 * 2, 6), nn.BatchNorm1d(6), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(6, 3, bias=False),
            nn.Softmax(dim=1),
        )
    rng = np.random.default_rng(0)
    for bn in (model[1], model[6]):
        bn.running_mean[...] = rng.normal(0, 0.3, bn.num_features)
        bn.running_var[...] = rng.uniform(0.5, 2, bn.num_features)
    return model


def test_every_layer_kind_exports_and_a_float64_model_runs_as_float32(tmp_path):
    model = _all_layers_model()
    proto = io.to_onnx(model, tmp_path / "m.onnx", input_shape=(2, 9, 7))
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Conv", "BatchNormalization", "LeakyRelu", "AveragePool", "MaxPool", "Tanh", "Flatten", "Gemm",
                   "BatchNormalization", "Sigmoid", "Gemm", "Softmax"]
    assert {i.data_type for i in proto.graph.initializer} == {onnx.TensorProto.FLOAT}
    x = sample_input((2, 9, 7), batch=3)
    assert np.abs(run_onnx(session(tmp_path / "m.onnx"), x) - eval_output(model, x)).max() <= TOL


def test_1d_grouped_dilated_and_residual_layers_export_and_run_in_onnxruntime(tmp_path):
    from glassnet import backend

    with backend.default_dtype(np.float64):
        model = nn.Sequential(
            nn.Conv1d(4, 8, 3, stride=2, padding=2, dilation=2, groups=2), nn.BatchNorm1d(8), nn.ReLU(),
            nn.Residual(nn.Sequential(nn.Conv1d(8, 8, 3, padding=1, groups=8), nn.BatchNorm1d(8))),
            nn.Residual(nn.Conv1d(8, 6, 1), nn.Conv1d(8, 6, 1, bias=False)),
            nn.MaxPool1d(3, 2), nn.AvgPool1d(2), nn.GlobalAvgPool1d(), nn.Linear(6, 3),
        )
    proto = io.to_onnx(model, tmp_path / "m.onnx", input_shape=(4, 31))
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Add", "Conv", "Conv", "Add",
                   "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Gemm"]
    conv = proto.graph.node[0]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert (attrs["dilations"], attrs["group"], attrs["pads"]) == ([2], 2, [2, 2])
    x = sample_input((4, 31), batch=3)
    assert np.abs(run_onnx(session(tmp_path / "m.onnx"), x) - eval_output(model, x)).max() <= TOL


def test_global_avg_pool_exports_as_global_average_pool_and_flatten(tmp_path):
    proto = io.to_onnx(nn.Sequential(nn.Conv2d(1, 2, 3), nn.GlobalAvgPool2d()), tmp_path / "m.onnx", (1, 5, 5))
    assert [n.op_type for n in proto.graph.node] == ["Conv", "GlobalAveragePool", "Flatten"]


def test_input_shape_is_inferred_from_a_leading_linear_layer(tmp_path):
    model = nn.Sequential(nn.Dropout(0.2), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    assert infer_input_shape(model) == (6,)
    io.to_onnx(model, tmp_path / "m.onnx")
    x = sample_input((6,), batch=7, dtype=np.float32)
    assert np.abs(run_onnx(session(tmp_path / "m.onnx"), x) - eval_output(model, x)).max() <= TOL
    assert infer_input_shape(nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 1))) == (3,)
    # BatchNorm1d takes (N, C, L) too: before a Conv1d the length is unknown, so the caller must give the shape
    assert infer_input_shape(nn.Sequential(nn.BatchNorm1d(2), nn.Conv1d(2, 4, 3))) is None


@pytest.mark.parametrize("model", [
    nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()),
    nn.Sequential(nn.Flatten(), nn.Linear(16, 2)),
    nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)),
], ids=["conv-first", "flatten-first", "pool-first"])
def test_a_model_that_cannot_tell_its_input_shape_needs_one(tmp_path, model):
    with pytest.raises(ValueError, match="input shape cannot be told from the model.*pass input_shape"):
        io.to_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_wrong_input_shape_is_reported(tmp_path):
    model = make_zoo_model("classic_cnn", (1, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"does not accept inputs of shape \(3, 8, 8\)"):
        io.to_onnx(model, tmp_path / "m.onnx", input_shape=(3, 8, 8))


def test_export_leaves_the_model_in_its_mode_and_unchanged(tmp_path):
    model = make_zoo_model("vgg_small", (1, 8, 8), np.float32).train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    io.to_onnx(model, tmp_path / "m.onnx", input_shape=(1, 8, 8))
    assert model.training
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_unsupported_layer_is_refused_and_the_previous_file_is_kept(tmp_path):
    class Custom(nn.Module):
        def forward(self, x):
            return x

    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError, match="no ONNX export for"):
        io.to_onnx(nn.Sequential(nn.Linear(3, 2), Custom()), path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_a_model_of_identity_layers_exports_an_identity_graph(tmp_path):
    proto = io.to_onnx(nn.Sequential(nn.Dropout(0.5)), tmp_path / "m.onnx", input_shape=(3,))
    assert [n.op_type for n in proto.graph.node] == ["Identity"]
    x = sample_input((3,), dtype=np.float32)
    assert np.array_equal(run_onnx(session(tmp_path / "m.onnx"), x), x)


def test_metadata_goes_into_metadata_props(tmp_path):
    proto = io.to_onnx(nn.Sequential(nn.Linear(2, 2)), tmp_path / "m.onnx", metadata={"classes": ["a", "b"]})
    assert {p.key: json.loads(p.value) for p in proto.metadata_props} == {"classes": ["a", "b"]}


# ------------------------------------------------------------------------------------ glassnet export
def _make_run(run_dir, input_shape=(1, 8, 8), with_shape=True):
    model = make_zoo_model("classic_cnn", input_shape, np.float32)
    meta = {"classes": [str(i) for i in range(10)], "mean": [0.5], "std": [0.25]}
    if with_shape:
        meta["input_shape"] = list(input_shape)
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"model": "classic_cnn", "data": "digits"}))
    io.save(model, run_dir / "model.safetensors", metadata=meta)
    return model


def test_export_command_writes_an_onnx_file_of_the_run(tmp_path, capsys):
    model = _make_run(tmp_path / "run")
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "out" / "model.onnx")]) == 0
    assert "input 'input' of shape (N, 1, 8, 8)" in capsys.readouterr().out
    x = sample_input((1, 8, 8), batch=3, dtype=np.float32)
    sess = session(tmp_path / "out" / "model.onnx")
    assert np.abs(run_onnx(sess, x) - eval_output(model, x)).max() <= TOL
    props = {p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "out" / "model.onnx")).metadata_props}
    assert props["std"] == [0.25] and props["input_shape"] == [1, 8, 8]


def test_export_command_needs_an_input_shape_when_the_run_has_none(tmp_path, capsys):
    _make_run(tmp_path / "run", with_shape=False)
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "m.onnx")]) == 2
    assert "--input-shape" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "run" / "model.safetensors"), str(tmp_path / "m.onnx"),
                 "--input-shape", "1", "8", "8"]) == 0
    assert (tmp_path / "m.onnx").is_file()


def test_export_command_reports_a_missing_run(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "m.onnx")]) == 2
    assert "no such run directory or model file" in capsys.readouterr().err
