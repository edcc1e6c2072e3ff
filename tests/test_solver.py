"""The Solver: reproducible epochs, exact resume, history, early stopping, best-model restore,
sampling with replacement, per-epoch files and the NaN/Inf guard."""
import csv

import numpy as np
import pytest

from glassnet import nn
from glassnet.data import ArrayDataset, DataLoader, RandomCrop, digits
from glassnet.models import classic_cnn
from glassnet.optim import L2, SGD, AdamW, CosineLR, StepLR
from glassnet.train import Solver, TrainingDiverged
from glassnet.train.metrics import COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def splits():
    return digits(seed=0, limit=300)  # 270 training, 30 validation, 360 test images of 1x8x8


def _model(seed=0, dropout=0.25):
    return classic_cnn((1, 8, 8), 10, channels=(4, 8), hidden=16, dropout=dropout, seed=seed)


def _solver(splits, model=None, epochs=3, out_dir=None, lr=3e-3, replacement=False, augment=True, **kw):
    """A tiny run with dropout, random-crop augmentation, AdamW, a cosine schedule and an L2 penalty."""
    model = model or _model()
    opt = AdamW(model.parameters(), lr)
    loader = DataLoader(splits.train, 32, seed=1, replacement=replacement,
                        transform=RandomCrop(8, padding=1) if augment else None)
    kw = {"val_set": splits.val, "scheduler": CosineLR(opt, epochs), "regularizer": L2(1e-4),
          "progress": False, "seed": 5, **kw}
    return Solver(model, loader, opt, epochs=epochs, out_dir=out_dir, **kw)


def _weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


def _assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k])]
    assert not differ, f"arrays differ: {differ}"


class _Interrupt(Exception):
    pass


def _interrupt_at_step(solver, step):
    """Make the optimizer raise at its ``step``-th update, as if the process died there."""
    real_step = solver.optimizer.step
    count = [0]

    def step_or_die():
        count[0] += 1
        if count[0] == step:
            raise _Interrupt(f"killed at step {step}")
        real_step()

    solver.optimizer.step = step_or_die


# ---------------------------------------------------------------- reproducibility and resume
def test_two_runs_with_the_same_seed_end_with_bit_identical_weights(splits):
    a, b = _solver(splits), _solver(splits)
    a.fit()
    b.fit()
    _assert_bit_identical(_weights(a.model), _weights(b.model))
    assert a.step_losses == b.step_losses
    c = _solver(splits, seed=6)  # another dropout seed: another run
    c.fit()
    assert c.step_losses != a.step_losses


def test_resume_after_interruption_mid_epoch_ends_with_the_uninterrupted_runs_weights(splits, tmp_path):
    steps_per_epoch = len(_solver(splits).loader)
    full = _solver(splits, out_dir=tmp_path / "full")
    full.fit()

    dying = _solver(splits, out_dir=tmp_path / "run")
    _interrupt_at_step(dying, steps_per_epoch + 4)  # inside epoch 2: only epoch 1's checkpoint exists
    with pytest.raises(_Interrupt):
        dying.fit()

    resumed = _solver(splits, model=_model(seed=123), out_dir=tmp_path / "run")  # other initial weights
    resumed.fit(resume=True)
    assert resumed.epoch == full.epoch == 3
    _assert_bit_identical(_weights(resumed.model), _weights(full.model))
    _assert_bit_identical(resumed.optimizer.state_dict()["arrays"], full.optimizer.state_dict()["arrays"])
    assert resumed.optimizer.state_dict()["scalars"] == full.optimizer.state_dict()["scalars"]
    assert resumed.step_losses == full.step_losses
    for k in ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert resumed.history[k] == full.history[k], k
    assert resumed.best_epoch == full.best_epoch


def test_resume_keeps_the_early_stopping_count(splits, tmp_path):
    # lr = 0: the validation accuracy never improves after epoch 1, so patience 2 stops after epoch 3
    def make(out):
        model = _model()
        return Solver(model, DataLoader(splits.train, 64, seed=1), SGD(model.parameters(), 0.0), val_set=splits.val,
                      epochs=8, patience=2, out_dir=out, progress=False)

    full = make(tmp_path / "full")
    full.fit()
    assert full.epoch == 3
    dying = make(tmp_path / "run")
    _interrupt_at_step(dying, 2 * len(dying.loader) + 1)  # inside epoch 3, after epoch 2's checkpoint
    with pytest.raises(_Interrupt):
        dying.fit()
    resumed = make(tmp_path / "run")
    resumed.fit(resume=True)
    assert resumed.epoch == 3

    again = make(tmp_path / "run")  # resuming a run that stopped early trains no further
    again.fit(resume=True)
    assert again.epoch == 3 and len(again.history["epoch"]) == 3


# ---------------------------------------------------------------- history and files
def test_history_has_every_column_with_one_entry_per_epoch(splits):
    solver = _solver(splits, epochs=2)
    history = solver.fit()
    assert tuple(history) == COLUMNS == ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
                                         "seconds", "images_per_s")
    assert all(len(v) == 2 for v in history.values())
    assert history["epoch"] == [1, 2]
    assert all(0.0 <= a <= 1.0 for a in history["train_acc"] + history["val_acc"])
    assert all(loss > 0 for loss in history["train_loss"] + history["val_loss"])
    assert len(solver.step_losses) == 2 * len(solver.loader)


def test_history_records_the_learning_rate_each_epoch_was_trained_with(splits):
    model = _model()
    opt = SGD(model.parameters(), 0.1, momentum=0.9)
    solver = Solver(model, DataLoader(splits.train, 64), opt, scheduler=StepLR(opt, 2, 0.5), epochs=5, progress=False)
    assert solver.fit()["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_solver_writes_metrics_csv_with_one_row_per_epoch_and_history_png(splits, tmp_path):
    _solver(splits, epochs=3, out_dir=tmp_path).fit()
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert all(len(r) == len(COLUMNS) and all(r) for r in rows[1:])
    png = (tmp_path / "history.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    assert (tmp_path / "checkpoint.safetensors").stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp")), "temporary files were left behind"


def test_training_reduces_the_loss_and_learns_the_digits(splits):
    solver = _solver(splits, model=_model(dropout=0.0), epochs=6, lr=1e-2, augment=False)
    history = solver.fit()
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert max(history["val_acc"]) > 0.6  # 10 classes: chance is 0.1


# ---------------------------------------------------------------- best model and early stopping
def test_early_stopping_stops_after_patience_epochs_without_better_validation_accuracy(splits):
    model = _model()
    solver = Solver(model, DataLoader(splits.train, 64), SGD(model.parameters(), 0.0), val_set=splits.val,
                    epochs=10, patience=3, progress=False)
    history = solver.fit()
    assert solver.epoch == 4 and history["epoch"] == [1, 2, 3, 4]  # best at 1, then 3 stale epochs
    assert solver.best_epoch == 1


def test_no_early_stopping_without_patience(splits):
    model = _model()
    solver = Solver(model, DataLoader(splits.train, 64), SGD(model.parameters(), 0.0), val_set=splits.val,
                    epochs=5, progress=False)
    assert solver.fit()["epoch"] == [1, 2, 3, 4, 5]


def test_early_stopping_without_a_validation_set_is_refused(splits):
    model = _model()
    with pytest.raises(ValueError, match="patience.*validation set"):
        Solver(model, DataLoader(splits.train, 64), SGD(model.parameters(), 0.1), epochs=5, patience=2)


def _per_epoch_weights(solver):
    seen = {}
    solver.callbacks.append(lambda s, record: seen.__setitem__(record["epoch"], _weights(s.model)))
    return seen


def test_restore_best_loads_the_weights_of_the_best_validation_epoch(splits):
    solver = _solver(splits, epochs=5, lr=5e-2)
    seen = _per_epoch_weights(solver)
    history = solver.fit()
    best = int(np.argmax(history["val_acc"])) + 1  # the first epoch with the highest accuracy
    assert solver.best_epoch == best
    assert solver.best_val_acc == max(history["val_acc"])
    _assert_bit_identical(_weights(solver.model), seen[best])


def test_restore_best_false_keeps_the_last_epochs_weights(splits):
    solver = _solver(splits, epochs=3, restore_best=False)
    seen = _per_epoch_weights(solver)
    solver.fit()
    _assert_bit_identical(_weights(solver.model), seen[3])


def test_without_validation_set_the_last_epochs_weights_are_kept(splits):
    solver = _solver(splits, epochs=3, val_set=None)
    seen = _per_epoch_weights(solver)
    history = solver.fit()
    assert history["val_acc"] == [None, None, None] and history["val_loss"] == [None, None, None]
    _assert_bit_identical(_weights(solver.model), seen[3])


# ---------------------------------------------------------------- sampling
class _RecordingDataset(ArrayDataset):
    """An ArrayDataset that remembers which examples were fetched."""

    fetched = []

    def __getitem__(self, indices):
        type(self).fetched.extend(np.asarray(indices).tolist())
        return super().__getitem__(indices)


@pytest.mark.parametrize("replacement", [False, True])
def test_sampling_with_replacement_draws_n_examples_some_twice(splits, replacement):
    data = _RecordingDataset(splits.train.x, splits.train.y)
    model = _model()
    loader = DataLoader(data, 32, seed=2, replacement=replacement)
    solver = Solver(model, loader, SGD(model.parameters(), 0.01), epochs=1, progress=False, train_eval_samples=0)
    _RecordingDataset.fetched = []
    solver.fit()
    fetched = np.array(_RecordingDataset.fetched)
    n = len(data)
    assert len(fetched) == n
    if replacement:
        assert len(np.unique(fetched)) < n  # repeats, and therefore skips
    else:
        np.testing.assert_array_equal(np.sort(fetched), np.arange(n))


# ---------------------------------------------------------------- the NaN/Inf guard
def _mlp():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32, rng=rng), nn.ReLU(), nn.Linear(32, 10, rng=rng))


def test_huge_learning_rate_raises_training_diverged_naming_the_first_bad_layer(splits):
    model = _mlp()
    solver = Solver(model, DataLoader(splits.train, 32, seed=0), SGD(model.parameters(), 1e30, momentum=0.9),
                    epochs=3, progress=False)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"layer '\d+'") as info:
        solver.fit()
    message = str(info.value)
    assert "diverged" in message and "smaller learning rate" in message
    assert "epoch 1" in message


def test_poisoned_weight_raises_training_diverged_naming_its_layer(splits):
    model = _mlp()
    model[3].weight.data[5, 2] = np.nan
    solver = Solver(model, DataLoader(splits.train, 32, seed=0), SGD(model.parameters(), 0.01), epochs=1,
                    progress=False)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"layer '3'") as info:
        solver.fit()
    assert "epoch 1, step 1" in str(info.value)
    assert "layer '1'" not in str(info.value)


def test_poisoned_input_is_reported_as_the_input_batch(splits):
    x = splits.train.x.copy()
    x[:] = np.inf
    model = _mlp()
    solver = Solver(model, DataLoader(ArrayDataset(x, splits.train.y), 32), SGD(model.parameters(), 0.01),
                    epochs=1, progress=False, train_eval_samples=0)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="input batch"):
        solver.fit()


def test_guard_stops_before_the_step_so_finite_weights_are_not_overwritten(splits):
    model = _mlp()
    before = _weights(model)
    x = splits.train.x.copy()
    x[0, 0, 3, 3] = np.nan  # the first batch (no shuffle) holds it
    solver = Solver(model, DataLoader(ArrayDataset(x, splits.train.y), 32, shuffle=False),
                    SGD(model.parameters(), 0.01), epochs=1, progress=False, train_eval_samples=0)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged):
        solver.fit()
    _assert_bit_identical(_weights(model), before)
