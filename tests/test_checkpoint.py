"""Training checkpoints: everything needed to continue is restored, writes are atomic (a failed write
leaves the previous checkpoint intact), and damaged or foreign files are refused with a clear error."""
import os

import numpy as np
import pytest
import safetensors.numpy

from glassnet.data import DataLoader, digits
from glassnet.io import ModelFileError
from glassnet.models import classic_cnn, two_layer_net
from glassnet.optim import Adam, CosineLR
from glassnet.train import Solver, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def splits():
    return digits(seed=0, limit=200)


def _model(seed=0):
    return classic_cnn((1, 8, 8), 10, channels=(4, 8), hidden=16, seed=seed)


def _trained_solver(splits, out_dir, epochs=2):
    model = _model()
    opt = Adam(model.parameters(), 1e-2)
    solver = Solver(model, DataLoader(splits.train, 64, seed=0), opt, val_set=splits.val,
                    scheduler=CosineLR(opt, 5), epochs=epochs, out_dir=out_dir, progress=False)
    solver.fit()
    return solver


def _fresh(splits, out_dir, seed=99):
    model = _model(seed)
    opt = Adam(model.parameters(), 1e-2)
    return Solver(model, DataLoader(splits.train, 64, seed=0), opt, val_set=splits.val,
                  scheduler=CosineLR(opt, 5), epochs=5, out_dir=out_dir, progress=False)


def _assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


@pytest.fixture
def checkpoint(splits, tmp_path):
    """A run directory with the checkpoint of a 2-epoch run; returns (solver, path)."""
    solver = _trained_solver(splits, tmp_path)
    return solver, tmp_path / "checkpoint.safetensors"


def test_checkpoint_restores_model_optimizer_schedule_and_solver_state(splits, checkpoint):
    solver, path = checkpoint
    fresh = _fresh(splits, path.parent)
    fresh.load_checkpoint()
    _assert_same_arrays(fresh.model.state_dict(), solver.model.state_dict())
    ours, theirs = fresh.optimizer.state_dict(), solver.optimizer.state_dict()
    _assert_same_arrays(ours["arrays"], theirs["arrays"])
    assert ours["scalars"] == theirs["scalars"] and ours["scalars"]["step"] == 2 * len(solver.loader)
    assert fresh.scheduler.last_epoch == 2 and fresh.optimizer.lr == solver.optimizer.lr
    assert fresh.epoch == 2 and fresh.history == solver.history
    assert fresh.best_epoch == solver.best_epoch and fresh.best_val_acc == solver.best_val_acc
    _assert_same_arrays(fresh.best_state, solver.best_state)
    assert fresh.step_losses == solver.step_losses


def test_checkpoint_functions_round_trip_without_a_solver(tmp_path):
    model = two_layer_net((1, 8, 8), 10, hidden=8)
    opt = Adam(model.parameters(), 1e-3)
    model.parameters()[0].grad[...] = 1.0
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, None, {"epoch": 7, "note": "hello"})
    other = two_layer_net((1, 8, 8), 10, hidden=8, seed=5)
    other_opt = Adam(other.parameters(), 1e-3)
    state, best = load_checkpoint(tmp_path / "c.safetensors", other, other_opt, None)
    assert state == {"epoch": 7, "note": "hello"} and best is None
    _assert_same_arrays(other.state_dict(), model.state_dict())
    assert other_opt.step_count == 1


def _boom(*args, **kwargs):
    raise OSError("disk full (simulated)")


def _assert_previous_checkpoint_intact(splits, path, before):
    """The file is byte-identical, no temporary file is left, and it still loads (epoch 2)."""
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    fresh = _fresh(splits, path.parent)
    fresh.load_checkpoint()
    assert fresh.epoch == 2


def test_failed_write_leaves_the_previous_checkpoint_intact(splits, checkpoint, monkeypatch):
    import pathlib

    solver, path = checkpoint
    before = path.read_bytes()

    def partial_write(self, data):
        with open(self, "wb") as fh:  # half a file, then the failure
            fh.write(data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pathlib.Path, "write_bytes", partial_write)
    solver.model.parameters()[0].data += 1.0  # something new to save
    with pytest.raises(OSError, match="disk full"):
        solver.save_checkpoint()
    monkeypatch.undo()
    _assert_previous_checkpoint_intact(splits, path, before)


def test_failed_rename_leaves_the_previous_checkpoint_intact(splits, checkpoint, monkeypatch):
    solver, path = checkpoint
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", _boom)
    solver.epoch = 3
    with pytest.raises(OSError, match="disk full"):
        solver.save_checkpoint()
    monkeypatch.undo()
    _assert_previous_checkpoint_intact(splits, path, before)


def test_failed_write_during_training_leaves_the_last_good_checkpoint(splits, tmp_path, monkeypatch):
    solver = _fresh(splits, tmp_path)
    solver.epochs = 3
    real = safetensors.numpy.save
    calls = []

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(safetensors.numpy, "save", fail_on_second)
    with pytest.raises(OSError):
        solver.fit()
    fresh = _fresh(splits, tmp_path)
    fresh.load_checkpoint()
    assert fresh.epoch == 1


def test_truncated_checkpoint_is_refused_with_a_clear_error(splits, checkpoint):
    _, path = checkpoint
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated") as info:
        _fresh(splits, path.parent).load_checkpoint()
    assert str(path) in str(info.value)


def test_empty_checkpoint_is_refused(splits, checkpoint):
    _, path = checkpoint
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match=str(path.name)):
        _fresh(splits, path.parent).load_checkpoint()


def test_checkpoint_with_tampered_weights_is_refused(splits, checkpoint):
    _, path = checkpoint
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # one bit of the last tensor
    path.write_bytes(bytes(data))
    fresh = _fresh(splits, path.parent)
    before = {k: np.array(v) for k, v in fresh.model.state_dict().items()}
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        fresh.load_checkpoint()
    _assert_same_arrays(fresh.model.state_dict(), before)  # nothing was half-loaded


def test_checkpoint_with_tampered_training_state_is_refused(splits, checkpoint):
    _, path = checkpoint
    data = path.read_bytes()
    assert data.count(b'\\"epoch\\": 2') == 1  # the solver state, JSON inside the safetensors header
    path.write_bytes(data.replace(b'\\"epoch\\": 2', b'\\"epoch\\": 1'))  # same length: still well-formed
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        _fresh(splits, path.parent).load_checkpoint()


def test_missing_checkpoint_is_refused(splits, tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        _fresh(splits, tmp_path).fit(resume=True)


def test_checkpoint_of_another_architecture_is_refused(splits, checkpoint):
    _, path = checkpoint
    model = classic_cnn((1, 8, 8), 10, channels=(4, 6), hidden=16)
    with pytest.raises(ModelFileError, match="another architecture"):
        load_checkpoint(path, model, Adam(model.parameters()), None)


def test_model_file_is_not_accepted_as_a_checkpoint(splits, tmp_path):
    from glassnet import io

    model = _model()
    io.save(model, tmp_path / "checkpoint.safetensors")
    with pytest.raises(ModelFileError, match="not a glassnet checkpoint"):
        _fresh(splits, tmp_path).load_checkpoint()


def test_checkpoint_of_another_optimizer_is_refused(splits, checkpoint):
    from glassnet.optim import SGD

    _, path = checkpoint
    model = _model()
    with pytest.raises(ValueError, match="Adam"):
        load_checkpoint(path, model, SGD(model.parameters(), 0.1), None)
