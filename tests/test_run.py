"""Run directories: train_run writes config, model, checkpoint, metrics, plots and summary;
load_run reads them back; the same config and seed give the same weights."""
import csv
import json

import numpy as np
import pytest

from glassnet import io
from glassnet.io.tensors import read
from glassnet.train.metrics import COLUMNS
from glassnet.train.run import DEFAULTS, load_run, config_optimizer, make_schedule, train_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = {"model": "two_layer_net", "limit": 200, "epochs": 2, "batch_size": 32, "schedule": "none"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    summary = train_run(TINY, out_dir=out, progress=False)
    return out, summary


def test_run_directory_holds_every_file(run_dir):
    out, _ = run_dir
    for name in ("config.json", "model.safetensors", "checkpoint.safetensors", "metrics.csv", "history.png",
                 "confusion.png", "summary.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["history.png", "confusion.png"])
def test_plots_are_valid_png_files(run_dir, name):
    data = (run_dir[0] / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100


def test_summary_json_has_accuracies_epochs_seconds_and_params(run_dir):
    out, summary = run_dir
    saved = json.loads((out / "summary.json").read_text())
    assert saved == summary
    for key in ("test_accuracy", "val_accuracy", "epochs", "seconds", "params"):
        assert key in saved, key
    assert 0.0 <= saved["test_accuracy"] <= 1.0 and 0.0 <= saved["val_accuracy"] <= 1.0
    assert saved["epochs"] == 2 and saved["seconds"] > 0
    model, _, _ = load_run(out)
    assert saved["params"] == model.num_parameters() == 64 * 256 + 256 + 256 * 10 + 10


def test_metrics_csv_has_the_history_columns_and_one_row_per_epoch(run_dir):
    with open(run_dir[0] / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for r in rows:
        assert 0.0 <= float(r["train_acc"]) <= 1.0 and 0.0 <= float(r["val_acc"]) <= 1.0
        assert float(r["train_loss"]) > 0 and float(r["lr"]) > 0 and float(r["images_per_s"]) > 0


def test_config_json_records_every_option(run_dir):
    cfg = json.loads((run_dir[0] / "config.json").read_text())
    assert set(cfg) == set(DEFAULTS)
    assert {k: cfg[k] for k in TINY} == TINY


def test_load_run_returns_the_trained_model_in_eval_mode_with_its_metadata(run_dir):
    out, summary = run_dir
    model, cfg, meta = load_run(out)
    assert not model.training
    assert cfg["model"] == "two_layer_net"
    assert meta["classes"] == [str(i) for i in range(10)] and meta["input_shape"] == [1, 8, 8]
    assert meta["pixel_scale"] == 16.0 and len(meta["mean"]) == len(meta["std"]) == 1
    arrays, _ = read(out / "model.safetensors")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, arrays[k])


def test_load_run_of_a_folder_without_a_model_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        load_run(tmp_path)


def test_same_config_and_seed_give_bit_identical_weights(run_dir, tmp_path):
    train_run(TINY, out_dir=tmp_path, progress=False)
    a, _ = read(run_dir[0] / "model.safetensors")
    b, _ = read(tmp_path / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_another_seed_gives_other_weights(run_dir, tmp_path):
    train_run({**TINY, "seed": 1}, out_dir=tmp_path, progress=False)
    a, _ = read(run_dir[0] / "model.safetensors")
    b, _ = read(tmp_path / "model.safetensors")
    assert any(not np.array_equal(a[k], b[k]) for k in a)


def test_resume_with_more_epochs_continues_the_run_as_if_never_stopped(run_dir, tmp_path):
    train_run({**TINY, "epochs": 1}, out_dir=tmp_path, progress=False)
    summary = train_run({"epochs": 2}, out_dir=tmp_path, resume=True, progress=False)
    assert summary["epochs"] == 2
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 2
    with open(tmp_path / "metrics.csv") as fh:
        assert len(fh.readlines()) == 3
    a, b = io.load(tmp_path / "model.safetensors"), io.load(run_dir[0] / "model.safetensors")
    for k, v in a.state_dict().items():
        assert np.array_equal(v, b.state_dict()[k]), k


def test_unknown_configuration_keys_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown configuration keys"):
        train_run({**TINY, "learning_rate": 0.1}, out_dir=tmp_path, progress=False)


def test_without_validation_split_the_run_still_finishes(tmp_path):
    summary = train_run({**TINY, "epochs": 1, "val_fraction": 0.0}, out_dir=tmp_path, progress=False)
    assert summary["val_accuracy"] is None and 0.0 <= summary["test_accuracy"] <= 1.0


def test_early_stopping_from_the_config_ends_the_run_early(tmp_path):
    summary = train_run({**TINY, "epochs": 10, "lr": 1e-12, "patience": 1},  # too small to change float32 weights
                        out_dir=tmp_path, progress=False)
    assert summary["epochs"] == 2 and summary["best_epoch"] == 1


def test_dropout_option_sets_the_models_dropout_probability(tmp_path):
    summary = train_run({**TINY, "epochs": 1, "dropout": 0.5}, out_dir=tmp_path, progress=False)
    model, _, _ = load_run(tmp_path)
    assert [m.p for m in model if type(m).__name__ == "Dropout"] == [0.5]
    assert summary["epochs"] == 1


@pytest.mark.parametrize("name, cls", [("sgd", "SGD"), ("nesterov", "SGD"), ("rmsprop", "RMSprop"),
                                       ("adam", "Adam"), ("adamw", "AdamW")])
def test_config_optimizer_builds_each_named_optimizer(name, cls):
    from glassnet.models import two_layer_net

    opt = config_optimizer({**DEFAULTS, "optimizer": name, "lr": 0.5, "weight_decay": 0.25},
                         two_layer_net((1, 8, 8), 10, hidden=4).parameters())
    assert type(opt).__name__ == cls and opt.lr == 0.5 and opt.weight_decay == 0.25
    if cls == "SGD":
        assert opt.nesterov == (name == "nesterov") and opt.momentum == DEFAULTS["momentum"]


def test_config_optimizer_and_schedule_reject_unknown_names():
    from glassnet.models import two_layer_net

    params = two_layer_net((1, 8, 8), 10, hidden=4).parameters()
    with pytest.raises(ValueError, match="unknown optimizer"):
        config_optimizer({**DEFAULTS, "optimizer": "lbfgs"}, params)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule({**DEFAULTS, "schedule": "exp"}, config_optimizer(DEFAULTS, params))


def test_run_directory_files_get_the_usual_permissions_not_0600(tmp_path):
    import os
    import stat

    from glassnet.io.atomic import write_text

    write_text(tmp_path / "a.json", "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o666 & ~mask


def test_resume_with_more_epochs_stretches_the_cosine_schedule_to_the_new_total(tmp_path):
    train_run({**TINY, "schedule": "cosine", "epochs": 2}, out_dir=tmp_path, progress=False)
    train_run({"epochs": 4}, out_dir=tmp_path, resume=True, progress=False)
    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    lrs = [float(r["lr"]) for r in rows]
    base = DEFAULTS["lr"]
    assert len(lrs) == 4
    assert lrs[2] == pytest.approx(0.5 * base * (1 + np.cos(np.pi * 2 / 4)))  # epoch 3 of a 4-epoch cosine
    assert lrs[3] < lrs[2]  # still annealing, not climbing back


def test_train_run_refuses_to_replace_a_run_and_checks_the_config_before_reading_data(run_dir, tmp_path):
    out, _ = run_dir
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ValueError, match="already holds a run: pass resume=True .* or overwrite=True"):
        train_run(TINY, out_dir=out, progress=False)
    with pytest.raises(ValueError, match=r"^epochs must be >= 1, got 0$"):
        train_run({**TINY, "epochs": 0}, out_dir=tmp_path / "new", progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and not (tmp_path / "new").exists()


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_from_epoch_1(tmp_path):
    train_run({**TINY, "epochs": 1}, out_dir=tmp_path / "whole", progress=False)
    (tmp_path / "stopped").mkdir()
    (tmp_path / "stopped" / "config.json").write_text((tmp_path / "whole" / "config.json").read_text())
    (tmp_path / "stopped" / ".checkpoint.safetensors.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    messages = []
    summary = train_run({}, out_dir=tmp_path / "stopped", resume=True, progress=False, log=messages.append)
    assert summary["epochs"] == 1 and not list((tmp_path / "stopped").glob(".*.tmp"))
    assert "removed 1 temporary file" in messages[0] and "starting from epoch 1" in messages[1]
    a, b = read(tmp_path / "stopped" / "model.safetensors")[0], read(tmp_path / "whole" / "model.safetensors")[0]
    assert all(np.array_equal(a[k], b[k]) for k in a)
