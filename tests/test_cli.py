"""The `glassnet` command end to end: help, train (every optimizer and schedule), evaluate, predict,
features, gradcheck, bit-exact reruns, a run killed mid-epoch and resumed, and clean errors."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.io.tensors import read

TINY = ["--limit", "300", "--epochs", "2", "--no-progress"]


def _glassnet(*args, timeout=120):
    """Run the command in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "glassnet.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def _run(capsys, *args):
    """Run the command in this process; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _arrays(path):
    return read(path)[0]


def _assert_same_model(a, b):
    a, b = _arrays(a), _arrays(b)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k])]
    assert not differ, f"arrays differ: {differ}"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A classic_cnn trained 2 epochs on 300 digits by `glassnet train` (dropout and augmentation on)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--model", "classic_cnn", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Digit 3 of scikit-learn's digits as a PNG (pixels scaled 0..16 -> 0..255) and as a raw .npy."""
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("images")
    image = load_digits().images[3]  # 8x8, values 0..16
    Image.fromarray(np.round(image * 255 / 16).astype(np.uint8), mode="L").save(folder / "three.png")
    np.save(folder / "three.npy", image)
    return folder / "three.png", folder / "three.npy"


# ---------------------------------------------------------------- help
def test_glassnet_help_lists_every_command():
    result = _glassnet("--help", timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "predict", "features", "gradcheck"):
        assert command in result.stdout


def test_train_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--data", "--epochs", "--batch-size", "--optimizer", "--lr", "--momentum",
                   "--schedule", "--weight-decay", "--l1", "--l2", "--dropout", "--no-augment", "--replacement",
                   "--patience", "--seed", "--limit", "--out", "--resume"):
        assert option in out, option
    for choice in ("sgd", "nesterov", "rmsprop", "adam", "adamw", "step", "cosine", "none", "classic_cnn"):
        assert choice in out, choice


@pytest.mark.parametrize("command", ["evaluate", "predict", "features", "gradcheck"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and f"glassnet {command}" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_0(capsys):
    code, out, _ = _run(capsys)
    assert code == 0 and "COMMAND" in out


# ---------------------------------------------------------------- train
def test_train_writes_a_run_directory_and_prints_test_accuracy(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["model"] == "classic_cnn"
    for name in ("model.safetensors", "checkpoint.safetensors", "metrics.csv", "history.png", "confusion.png"):
        assert (run_dir / name).stat().st_size > 0


def test_train_output_names_accuracy_epochs_and_run_dir(capsys, tmp_path):
    code, out, _ = _run(capsys, "train", "--model", "two_layer_net", "--limit", "200", "--epochs", "1",
                        "--no-progress", "--out", tmp_path / "r")
    assert code == 0
    assert re.search(r"test accuracy 0\.\d{4} \(val 0\.\d{4}\) after 1 epochs", out)
    assert f"run saved to {tmp_path / 'r'}" in out


def test_train_twice_with_the_same_seed_gives_bit_identical_weights(run_dir, tmp_path):
    assert main(["train", "--model", "classic_cnn", *TINY, "--out", str(tmp_path / "again")]) == 0
    _assert_same_model(run_dir / "model.safetensors", tmp_path / "again" / "model.safetensors")


OPTIONS = [
    ("sgd", "step", ["--lr", "0.05", "--step-size", "1", "--gamma", "0.5"]),
    ("nesterov", "cosine", ["--lr", "0.05", "--l2", "1e-3"]),
    ("rmsprop", "none", ["--lr", "1e-3", "--l1", "1e-4"]),
    ("adam", "step", ["--lr", "1e-3", "--step-size", "1", "--dropout", "0.5", "--weight-decay", "1e-4"]),
    ("adamw", "cosine", ["--lr", "1e-3", "--l1", "1e-5", "--l2", "1e-4", "--replacement", "--no-augment"]),
]


@pytest.mark.parametrize("optimizer, schedule, extra", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_train_with_each_optimizer_and_schedule(capsys, tmp_path, optimizer, schedule, extra):
    code, out, err = _run(capsys, "train", "--model", "two_layer_net", "--limit", "200", "--epochs", "2",
                          "--optimizer", optimizer, "--schedule", schedule, *extra, "--no-progress", "--out", tmp_path)
    assert code == 0, err
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["optimizer"] == optimizer and cfg["schedule"] == schedule
    for flag, key in (("--l1", "l1"), ("--l2", "l2"), ("--dropout", "dropout"), ("--lr", "lr")):
        if flag in extra:
            assert cfg[key] == float(extra[extra.index(flag) + 1])
    assert cfg["replacement"] == ("--replacement" in extra) and cfg["augment"] == ("--no-augment" not in extra)
    _, document = read(tmp_path / "checkpoint.safetensors")
    expected = {"sgd": "SGD", "nesterov": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}[optimizer]
    assert document["optimizer"]["optimizer"] == expected
    assert document["optimizer"].get("nesterov", False) == (optimizer == "nesterov")
    with open(tmp_path / "metrics.csv", newline="") as fh:
        lrs = [float(r["lr"]) for r in csv.DictReader(fh)]
    lr = cfg["lr"]
    expected = {"step": [lr, lr * cfg["gamma"] ** (1 // cfg["step_size"])], "cosine": [lr, lr / 2], "none": [lr, lr]}
    assert lrs == pytest.approx(expected[schedule])  # cosine over 2 epochs: half-way down after one
    if "--dropout" in extra:
        assert any(layer["type"] == "Dropout" and layer["config"]["p"] == 0.5
                   for layer in document["architecture"]["layers"])


# ---------------------------------------------------------------- evaluate, predict, features, gradcheck
def test_evaluate_prints_the_test_accuracy_of_the_run(capsys, run_dir):
    code, out, _ = _run(capsys, "evaluate", run_dir)
    assert code == 0
    accuracy = json.loads((run_dir / "summary.json").read_text())["test_accuracy"]
    assert f"accuracy {accuracy:.4f}" in out and "360 samples" in out
    assert "confusion matrix" in out and "per-class accuracy" in out


def test_evaluate_on_the_validation_split(capsys, run_dir):
    code, out, _ = _run(capsys, "evaluate", run_dir, "--split", "val")
    accuracy = json.loads((run_dir / "summary.json").read_text())["val_accuracy"]
    assert code == 0 and "(val, 30 samples)" in out and f"accuracy {accuracy:.4f}" in out


def _top_k(line):
    """'path: 3 (0.812), 8 (0.101), ...' -> [('3', 0.812), ('8', 0.101), ...]"""
    return [(c, float(p)) for c, p in re.findall(r"(\S+) \((\d\.\d{3})\)", line.split(": ", 1)[1])]


@pytest.mark.parametrize("which", [0, 1], ids=["png", "npy"])
def test_predict_prints_top_k_classes_with_probabilities(capsys, run_dir, digit_files, which):
    code, out, _ = _run(capsys, "predict", run_dir, digit_files[which], "--top-k", "4")
    assert code == 0
    line = out.strip()
    assert line.startswith(str(digit_files[which]))
    top = _top_k(line)
    assert len(top) == 4 and len({c for c, _ in top}) == 4
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.002 and probs[0] > 0.1
    code, out, _ = _run(capsys, "predict", run_dir, digit_files[which], "--top-k", "10")
    assert sum(p for _, p in _top_k(out.strip())) == pytest.approx(1.0, abs=0.006)  # 10 values rounded to 3 digits


def test_predict_of_png_and_raw_pixels_of_the_same_digit_agree(capsys, run_dir, digit_files):
    code, out, _ = _run(capsys, "predict", run_dir, *digit_files, "--top-k", "10")
    assert code == 0
    png, npy = (dict(_top_k(line)) for line in out.strip().splitlines())
    diff = max(abs(png[c] - npy[c]) for c in png)
    assert diff < 0.02  # the PNG only rounds the pixels to multiples of 1/255


def test_predict_invert_reads_dark_ink_on_light_paper_like_the_training_digits(capsys, run_dir, digit_files):
    from PIL import Image

    paper = digit_files[0].with_name("three_on_paper.png")
    Image.fromarray(255 - np.asarray(Image.open(digit_files[0]))).save(paper)
    code, out_paper, _ = _run(capsys, "predict", run_dir, paper, "--top-k", "10", "--invert")
    assert code == 0
    _, out_plain, _ = _run(capsys, "predict", run_dir, digit_files[0], "--top-k", "10")
    assert dict(_top_k(out_paper.strip())) == dict(_top_k(out_plain.strip()))


def test_features_prints_both_accuracies(capsys, run_dir):
    code, out, _ = _run(capsys, "features", run_dir, "--epochs", "5")
    assert code == 0
    head = float(re.search(r"softmax head test accuracy : (\d\.\d+)", out).group(1))
    svm = float(re.search(r"linear SVM on features     : (\d\.\d+)", out).group(1))
    assert 0 <= head <= 1 and 0 <= svm <= 1
    assert head == pytest.approx(json.loads((run_dir / "summary.json").read_text())["test_accuracy"], abs=1e-4)
    assert "128 values per image" in out and "points" in out


def test_gradcheck_exits_0_and_prints_within(capsys):
    code, out, _ = _run(capsys, "gradcheck")
    assert code == 0
    assert re.search(r"(\d+) of \1 gradients within 1e-06", out)
    assert "FAIL" not in out


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("command", ["evaluate", "predict", "features"])
def test_nonexistent_run_dir_is_an_error_message_not_a_traceback(capsys, tmp_path, command):
    args = [command, tmp_path / "missing"] + (["x.png"] if command == "predict" else [])
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert f"glassnet {command}: error:" in err and "no model.safetensors" in err and "Traceback" not in err


def test_errors_from_a_fresh_process_have_no_traceback(tmp_path):
    result = _glassnet("evaluate", tmp_path / "missing", timeout=60)
    assert result.returncode == 2
    assert "error" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_name_is_rejected_with_the_choices(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "resnet9000"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'resnet9000'" in err and "classic_cnn" in err


def test_unknown_optimizer_is_rejected(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--optimizer", "lbfgs"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_resume_of_a_folder_that_is_not_a_run_is_an_error(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--resume", tmp_path, "--no-progress")
    assert code == 2 and "glassnet train: error:" in err


def test_predict_refuses_raw_pixels_of_the_wrong_size(capsys, run_dir, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((5, 5)))
    code, _, err = _run(capsys, "predict", run_dir, tmp_path / "bad.npy")
    assert code == 2 and "expected 64 values for input shape (1, 8, 8)" in err


def test_predict_refuses_a_file_that_is_not_an_image(capsys, run_dir, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    code, _, err = _run(capsys, "predict", run_dir, tmp_path / "notes.png")
    assert code == 2 and "cannot read image" in err


def test_dropout_on_a_model_without_that_option_is_an_error(capsys, tmp_path, monkeypatch):
    from glassnet.models import zoo

    def no_dropout(input_shape, num_classes, seed=0):
        return zoo.two_layer_net(input_shape, num_classes, seed=seed)

    monkeypatch.setitem(zoo.MODELS, "two_layer_net", no_dropout)
    code, _, err = _run(capsys, "train", "--model", "two_layer_net", "--dropout", "0.5", *TINY, "--out", tmp_path)
    assert code == 2 and "has no dropout option" in err


# ---------------------------------------------------------------- kill and resume
KILL_ARGS = ["train", "--model", "classic_cnn", "--limit", "1000", "--epochs", "3", "--batch-size", "32",
             "--dropout", "0.3", "--no-progress"]  # augmentation on (the default); epochs of ~30 steps, long
# enough that the kill below lands inside epoch 2 with the compiled kernels on two idle cores


def _checkpoint_epoch(path):
    return read(path)[1]["solver"]["epoch"]


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "glassnet.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_run_killed_mid_epoch_and_resumed_ends_with_the_uninterrupted_runs_weights(tmp_path):
    # both runs in fresh interpreters: bit-exactness must not depend on what this test process has imported
    whole = _start(*KILL_ARGS, "--out", tmp_path / "whole")
    killed = tmp_path / "killed"
    checkpoint = killed / "checkpoint.safetensors"
    proc = _start(*KILL_ARGS, "--out", killed)
    try:
        deadline = time.monotonic() + 240
        while not checkpoint.exists():  # written atomically after epoch 1
            assert proc.poll() is None, f"train exited early ({proc.returncode}): {proc.communicate()[1]}"
            assert time.monotonic() < deadline, "no checkpoint after 240 s"
            time.sleep(0.02)
        time.sleep(0.05)  # a few steps into epoch 2
        assert proc.poll() is None, "the run finished before it could be killed: make its epochs longer"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert not (killed / "model.safetensors").exists()
        assert 1 <= _checkpoint_epoch(checkpoint) < 3, "the kill did not interrupt the run"

        resumed = _glassnet("train", "--resume", killed, "--no-progress", timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert "after 3 epochs" in resumed.stdout
        _, err = whole.communicate(timeout=300)
        assert whole.returncode == 0, err
    finally:
        for p in (proc, whole):
            if p.poll() is None:
                p.kill()
                p.communicate()
    _assert_same_model(killed / "model.safetensors", tmp_path / "whole" / "model.safetensors")
    with open(killed / "metrics.csv") as a, open(tmp_path / "whole" / "metrics.csv") as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["epoch"] for r in rows_a] == ["1", "2", "3"]
    for ra, rb in zip(rows_a, rows_b):
        for k in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
            assert ra[k] == rb[k], k


def test_device_cuda_without_cupy_says_what_to_install(capsys, tmp_path):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here: this checks the message of a machine without it")
    except ImportError:
        pass
    code, _, err = _run(capsys, "train", "--device", "cuda", "--epochs", "1", "--out", tmp_path / "r", "--no-progress")
    assert code == 1 and "glassnet train: error:" in err and "pip install glassnet[cuda]" in err  # the environment
    assert "Traceback" not in err
