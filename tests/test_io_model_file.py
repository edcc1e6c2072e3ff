"""Model files: every zoo model round-trips bit-exactly, and every kind of bad file is refused clearly.

Bad files: truncated, tampered tensor bytes, weights that do not fit the architecture, unknown or
malformed layers in the JSON, and pickles named like model files (plain pickles of every protocol,
torch.save zip and legacy archives) whose unpickling would create a marker file - they are refused
from their bytes, without ever being unpickled (the marker never appears).
"""
import json
import pickle

import numpy as np
import pytest

from glassnet import backend, io, nn
from glassnet.io import ModelFileError
from glassnet.io.tensors import read, write
from glassnet.models import MODELS, SIGNAL_MODELS, build_model

ZOO_SHAPES = [(1, 8, 8), (3, 32, 32)]
SIGNAL_SHAPES = [(1, 16), (3, 40)]
ZOO_CASES = [pytest.param(name, shape, id=f"{name}-{shape}") for name in sorted(MODELS)
             for shape in (SIGNAL_SHAPES if name in SIGNAL_MODELS else ZOO_SHAPES)]
"""(zoo model, input shape) pairs: image models on images, signal models (cnn1d) on signals."""


def make_zoo_model(name, input_shape, dtype=np.float64, num_classes=10, seed=0):
    """A zoo model in ``dtype`` whose batch-norm parameters and running statistics are not the
    initial ones (so a conversion that drops them, or mixes mean and var, shows)."""
    with backend.default_dtype(dtype):
        model = build_model(name, input_shape, num_classes, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.weight.data[...] = rng.uniform(0.5, 1.5, n)
            m.bias.data[...] = rng.normal(0, 0.2, n)
            m.running_mean[...] = rng.normal(0, 0.2, n)
            m.running_var[...] = rng.uniform(0.5, 2.0, n)
    return model


def sample_input(shape, batch=4, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype(dtype)


def eval_output(model, x):
    model.eval()
    return model.forward(x)


def assert_same_model(a, b):
    assert io.architecture(a) == io.architecture(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        assert np.array_equal(sa[k], sb[k]), k


# ------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name, shape", ZOO_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_every_zoo_model_round_trips_through_a_file_bit_exactly(tmp_path, name, shape, dtype):
    model = make_zoo_model(name, shape, dtype)
    io.save(model, tmp_path / "m.safetensors", metadata={"input_shape": list(shape)})
    with backend.default_dtype(np.float32 if dtype == np.float64 else np.float64):  # the file's dtype wins
        loaded, meta = io.load(tmp_path / "m.safetensors", return_metadata=True)
    assert meta == {"input_shape": list(shape)}
    assert_same_model(model, loaded)
    x = sample_input(shape, dtype=dtype)
    assert np.array_equal(eval_output(model, x), eval_output(loaded, x))


def test_round_trip_keeps_nested_sequentials_and_every_layer_config(tmp_path):
    model = nn.Sequential(
        nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), bias=False), nn.BatchNorm2d(3, eps=1e-3, momentum=0.2),
        nn.Sequential(nn.LeakyReLU(0.3), nn.AvgPool2d(2, stride=1)), nn.MaxPool2d(2), nn.GlobalAvgPool2d(),
        nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4), nn.Tanh(), nn.Dropout(0.4), nn.Sigmoid(), nn.Softmax(dim=1),
    )
    io.save(model, tmp_path / "m.safetensors")
    loaded = io.load(tmp_path / "m.safetensors")
    assert_same_model(model, loaded)
    assert repr(loaded) == repr(model)


def test_save_writes_a_standard_safetensors_file_with_a_checksum(tmp_path):
    from safetensors.numpy import load_file

    model = make_zoo_model("two_layer_net", (1, 4, 4))
    io.save(model, tmp_path / "m.safetensors")
    plain = load_file(str(tmp_path / "m.safetensors"))
    assert set(plain) == set(model.state_dict())
    assert np.array_equal(plain["1.weight"], model.state_dict()["1.weight"])


# ------------------------------------------------------------------------------------ damaged files
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    io.save(make_zoo_model("classic_cnn", (1, 8, 8)), path)
    return path


@pytest.mark.parametrize("keep", [0, 5, 9, 100, 0.5, -1], ids=lambda k: f"keep{k}")
def test_truncated_file_is_refused(saved, keep):
    data = saved.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    saved.write_bytes(data[:n])
    with pytest.raises(ModelFileError, match="truncated|too short|not a readable"):
        io.load(saved)


def test_tampered_tensor_bytes_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[-3] ^= 0x01  # one bit of the last tensor
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        io.load(saved)


def test_tampered_metadata_fails_the_checksum(saved):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(saved), framework="numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    meta["glassnet"] = meta["glassnet"].replace('"metadata": {}', '"metadata": {"classes": ["x"]}')
    save_file(arrays, str(saved), metadata=meta)  # same tensors and digest, edited document
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        io.load(saved)


def test_a_plain_safetensors_file_without_glassnet_metadata_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "m.safetensors"))
    with pytest.raises(ModelFileError, match="without glassnet metadata"):
        io.load(tmp_path / "m.safetensors")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        io.load(tmp_path / "absent.safetensors")


def _write_model_file(path, arrays, architecture, **extra):
    document = {"format": "glassnet-model", "version": 1, "architecture": architecture, "dtype": "float64",
                "metadata": {}, **extra}
    write(path, arrays, document)


def test_weights_of_another_architecture_are_refused(tmp_path):
    small = make_zoo_model("two_layer_net", (1, 4, 4))
    other = make_zoo_model("two_layer_net", (1, 8, 8))
    _write_model_file(tmp_path / "m.safetensors", small.state_dict(), io.architecture(other))
    expected = r"do not match the architecture(.|\n)*1\.weight: expected shape \(64, 256\)"
    with pytest.raises(ModelFileError, match=expected):
        io.load(tmp_path / "m.safetensors")


@pytest.mark.parametrize("change", ["missing", "unexpected"])
def test_missing_or_extra_tensors_are_refused(tmp_path, change):
    model = make_zoo_model("two_layer_net", (1, 4, 4))
    state = dict(model.state_dict())
    if change == "missing":
        del state["3.bias"]
    else:
        state["9.weight"] = np.zeros(2)
    _write_model_file(tmp_path / "m.safetensors", state, io.architecture(model))
    with pytest.raises(ModelFileError, match=f"{change} keys"):
        io.load(tmp_path / "m.safetensors")


@pytest.mark.parametrize("layer_type", ["Lambda", "os.system", "__import__", "Module", "CrossEntropyLoss", "eval", 3])
def test_unknown_layer_type_is_refused_and_nothing_runs(tmp_path, layer_type, monkeypatch):
    """Layer types are looked up in glassnet.nn.LAYERS only: names of functions, modules or other
    glassnet classes (the base Module, a loss) are refused before anything is called."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    arch = {"type": "Sequential", "layers": [{"type": layer_type, "config": {"command": f"touch {marker}"}}]}
    _write_model_file(tmp_path / "m.safetensors", {}, arch)
    with pytest.raises(ModelFileError, match=r"model\.0: unknown layer type"):
        io.load(tmp_path / "m.safetensors")
    assert not marker.exists()


@pytest.mark.parametrize("spec, message", [
    ({"type": "Linear", "config": {"in_features": 2, "out_features": 2, "evil": 1}}, "bad configuration for Linear"),
    ({"type": "Linear", "config": {"in_features": "two", "out_features": 2}}, "bad configuration for Linear"),
    ({"type": "Dropout", "config": {"p": 3.0}}, "bad configuration for Dropout"),
    ({"type": "Conv2d", "config": {"in_channels": 1, "out_channels": 1, "kernel_size": [1, 2, 3]}}, "bad config"),
    ({"type": "Linear", "config": [2, 2]}, "must be an object"),
    ({"type": "Sequential", "layers": "ReLU"}, "must be a list"),
    ({"layers": []}, "expected an object with a 'type'"),
    ("Sequential", "expected an object with a 'type'"),
])
def test_malformed_architecture_json_is_refused(tmp_path, spec, message):
    _write_model_file(tmp_path / "m.safetensors", {}, spec)
    with pytest.raises(ModelFileError, match=message):
        io.load(tmp_path / "m.safetensors")


@pytest.mark.parametrize("extra, message", [
    ({"format": "glassnet-checkpoint"}, "not a glassnet model file"),
    ({"version": 99}, "newer glassnet"),
    ({"dtype": "no-such-dtype"}, "unknown parameter dtype"),
    ({"dtype": "int32"}, "unsupported parameter dtype"),
])
def test_wrong_kind_version_or_dtype_is_refused(tmp_path, extra, message):
    model = make_zoo_model("two_layer_net", (1, 4, 4))
    _write_model_file(tmp_path / "m.safetensors", model.state_dict(), io.architecture(model), **extra)
    with pytest.raises(ModelFileError, match=message):
        io.load(tmp_path / "m.safetensors")


def test_document_that_is_not_a_json_object_is_refused(tmp_path):
    write(tmp_path / "m.safetensors", {}, ["not", "an", "object"])
    with pytest.raises(ModelFileError, match="expected an object"):
        io.load(tmp_path / "m.safetensors")


def test_document_without_architecture_is_refused(tmp_path):
    write(tmp_path / "m.safetensors", {}, {"format": "glassnet-model", "version": 1})
    with pytest.raises(ModelFileError, match="no 'architecture'"):
        io.load(tmp_path / "m.safetensors")


def test_a_model_with_a_layer_outside_glassnet_nn_cannot_be_saved(tmp_path):
    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="cannot describe Custom"):
        io.save(nn.Sequential(nn.ReLU(), Custom()), tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


def test_failed_write_leaves_the_previous_file_intact_and_names_the_target(saved, monkeypatch):
    import errno
    import pathlib

    before = saved.read_bytes()

    def half_then_disk_full(self, data):
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_bytes", half_then_disk_full)
    with pytest.raises(OSError) as info:
        io.save(make_zoo_model("lenet5", (1, 8, 8)), saved)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(saved)  # not the temporary file
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]  # no temporary file left


def test_saved_model_files_get_the_usual_permissions_not_0600(saved):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o666 & ~mask


# ------------------------------------------------------------------------------------ malicious pickles
class _Payload:
    """Unpickling this object calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_bytes(marker, protocol):
    return pickle.dumps({"state_dict": _Payload(marker)}, protocol=protocol)


def _torch_save_bytes(marker, path, zip_format=True):
    torch = pytest.importorskip("torch")
    torch.save({"weight": torch.zeros(2), "payload": _Payload(marker)}, path,
               _use_new_zipfile_serialization=zip_format)
    return path.read_bytes()


def _malicious(kind, marker, tmp_path):
    if kind.startswith("pickle-protocol-"):
        return _pickle_bytes(marker, int(kind.rsplit("-", 1)[1]))
    return _torch_save_bytes(marker, tmp_path / "scratch.pt", zip_format=kind == "torch.save-zip")


MALICIOUS = [f"pickle-protocol-{p}" for p in range(pickle.HIGHEST_PROTOCOL + 1)]
MALICIOUS += ["torch.save-zip", "torch.save-legacy"]


@pytest.mark.parametrize("kind", MALICIOUS)
def test_the_malicious_payload_is_armed(tmp_path, kind):
    """Control experiment: unpickling these bytes really does create the marker file."""
    marker = tmp_path / "armed"
    data = _malicious(kind, marker, tmp_path)
    if kind.startswith("torch"):
        import torch

        (tmp_path / "control.pt").write_bytes(data)
        try:
            torch.load(tmp_path / "control.pt", weights_only=False)
        except Exception:  # the payload object replaced by a file handle may upset torch's loader
            pass
    else:
        try:
            pickle.loads(data)
        except Exception:
            pass
    assert marker.exists()


@pytest.mark.parametrize("kind", MALICIOUS)
def test_malicious_pickle_named_model_safetensors_is_refused_without_unpickling(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(_malicious(kind, marker, tmp_path))
    with pytest.raises(ModelFileError, match="never unpickles"):
        io.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pickle-protocol-0", "pickle-protocol-4", "torch.save-zip"])
def test_malicious_pickle_in_a_run_directory_or_checkpoint_is_refused(tmp_path, kind):
    from glassnet.optim import SGD
    from glassnet.train import load_checkpoint
    from glassnet.train.run import load_run

    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "classic_cnn"}))
    payload = _malicious(kind, marker, tmp_path)
    (run / "model.safetensors").write_bytes(payload)
    (run / "checkpoint.safetensors").write_bytes(payload)
    with pytest.raises(ModelFileError, match="never unpickles"):
        load_run(run)
    model = make_zoo_model("two_layer_net", (1, 4, 4))
    with pytest.raises(ModelFileError, match="never unpickles"):
        load_checkpoint(run / "checkpoint.safetensors", model, SGD(model.parameters(), 0.1), None)
    assert not marker.exists()


def test_checkpoint_with_tampered_optimizer_state_is_refused(tmp_path):
    from glassnet.optim import Adam
    from glassnet.train import load_checkpoint, save_checkpoint

    model = make_zoo_model("two_layer_net", (1, 4, 4))
    opt = Adam(model.parameters(), 1e-3)
    for p in model.parameters():
        p.grad[...] = 1.0
    opt.step()
    save_checkpoint(tmp_path / "ckpt.safetensors", model, opt, None, {"epoch": 1})
    state, _ = load_checkpoint(tmp_path / "ckpt.safetensors", model, Adam(model.parameters(), 1e-3), None)
    assert state == {"epoch": 1}
    arrays, document = read(tmp_path / "ckpt.safetensors")
    data = bytearray((tmp_path / "ckpt.safetensors").read_bytes())
    data[-1] ^= 0x10
    (tmp_path / "ckpt.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_checkpoint(tmp_path / "ckpt.safetensors", model, Adam(model.parameters(), 1e-3), None)
    assert any(k.startswith("optim/") for k in arrays) and document["format"] == "glassnet-checkpoint"


@pytest.mark.parametrize("first_bytes", [b"\x80", b"PK"], ids=["0x80", "PK"])
def test_a_valid_file_whose_header_length_looks_like_a_pickle_or_zip_still_loads(tmp_path, first_bytes):
    """The first byte of a safetensors file is the low byte of its header length: 0x80 (or "PK") there
    is a legitimate file, not a pickle (or zip)."""
    model = make_zoo_model("two_layer_net", (1, 2, 2))
    path = tmp_path / "m.safetensors"
    io.save(model, path, metadata={"pad": ""})
    base = int.from_bytes(path.read_bytes()[:8], "little")  # each padding character adds one header byte
    want = int.from_bytes(first_bytes, "little")
    modulus = 256 ** len(first_bytes)
    target = base + (want - base) % modulus
    for pad in range(max(0, target - base - 8), target - base + 9):
        io.save(model, path, metadata={"pad": "x" * pad})
        if path.read_bytes()[: len(first_bytes)] == first_bytes:
            break
    else:
        pytest.fail(f"no padding gives a header length starting with {first_bytes!r}")
    loaded, meta = io.load(path, return_metadata=True)
    assert_same_model(model, loaded)
