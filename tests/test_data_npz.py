"""Your own arrays as a dataset: a .npz of x_train, y_train, x_test, y_test (images or signals) loads
as DataSplits normalised per channel, every malformed file is refused with a message naming the file,
the array and what was expected, and `glassnet train --data FILE.npz` trains cnn1d on signals and
resnet20 on images end to end."""
import json

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.data import load_data, npz_dataset


def signals(n_train=60, n_test=20, channels=2, length=32, classes=3, seed=0):
    """Noisy sines whose frequency is the class: a 1-D task a small CNN learns quickly."""
    rng = np.random.default_rng(seed)

    def part(n):
        y = rng.integers(0, classes, n)
        t = np.arange(length)
        x = np.sin(2 * np.pi * (y[:, None, None] + 1) * t / length + rng.uniform(0, 6, (n, channels, 1)))
        return (x + 0.1 * rng.standard_normal((n, channels, length))).astype(np.float32), y

    (x_train, y_train), (x_test, y_test) = part(n_train), part(n_test)
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def save(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_signals_load_as_normalised_n_c_l_splits_with_a_stratified_validation_part(tmp_path):
    arrays = signals()
    splits = npz_dataset(save(tmp_path, **arrays), val_fraction=0.2, seed=0)
    assert splits.input_shape == (2, 32) and splits.classes == ["0", "1", "2"] and splits.pixel_scale == 1.0
    assert (len(splits.train), len(splits.val), len(splits.test)) == (48, 12, 20)
    np.testing.assert_allclose(splits.train.x.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(splits.train.x.std(axis=(0, 2)), 1, rtol=1e-4)
    assert splits.train.x.dtype == np.float32 and splits.train.y.dtype == np.int64
    assert splits.normalize(arrays["x_test"][0]).shape == (1, 2, 32)


def test_uint8_images_are_scaled_by_255_and_class_names_are_read(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (40, 3, 6, 6), dtype=np.uint8), y_train=np.arange(40) % 2,
                  x_test=rng.integers(0, 256, (10, 3, 6, 6), dtype=np.uint8), y_test=np.arange(10) % 2,
                  classes=np.array(["cat", "dog"]))
    splits = load_data(str(save(tmp_path, **arrays)), val_fraction=0.0)
    assert splits.input_shape == (3, 6, 6) and splits.pixel_scale == 255.0 and splits.classes == ["cat", "dog"]
    np.testing.assert_allclose(splits.mean, arrays["x_train"].mean(axis=(0, 2, 3)) / 255, rtol=1e-6)


def _bad(**changes):
    arrays = signals(n_train=20, n_test=6)
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


@pytest.mark.parametrize("arrays, message", [
    (_bad(y_test=None), r"missing array\(s\) y_test; a dataset .npz holds x_train, y_train, x_test, y_test"),
    (_bad(x_train=np.zeros((20, 32), np.float32)), r"x_train must be images \(N, C, H, W\) or signals \(N, C, L\), got shape \(20, 32\)"),
    (_bad(x_test=np.zeros((6, 2, 31), np.float32)), r"training and test examples differ in shape: x_train \(20, 2, 32\), x_test \(6, 2, 31\)"),
    (_bad(y_train=np.zeros(19, np.int64)), r"y_train has 19 labels but x_train has 20 examples"),
    (_bad(y_train=np.zeros((20, 1), np.int64)), r"y_train must be a vector of class labels \(N,\), got shape \(20, 1\)"),
    (_bad(y_train=np.full(20, 0.5)), r"y_train must hold whole-number class labels"),
    (_bad(y_train=np.array(["a"] * 20)), r"y_train must hold integer class labels 0..K-1, got dtype <U1"),
    (_bad(y_test=np.array([0, 1, 2, 5, 0, 1])), r"y_test has label 5, but the training labels only go up to 2"),
    (_bad(y_train=-(np.arange(20) % 3)), r"y_train has negative label -2"),
    (_bad(y_train=np.zeros(20, np.int64), y_test=np.zeros(6, np.int64)), r"y_train holds a single class"),
    (_bad(x_train=np.where(np.arange(20)[:, None, None] == 3, np.nan, signals(20, 6)["x_train"])),
     r"x_train has 64 NaN or infinite value\(s\), the first at index \(3, 0, 0\)"),
    (_bad(x_train=np.zeros((20, 2, 32), bool)), r"x_train must hold real numbers, got dtype bool"),
    (_bad(x_test=np.zeros((0, 2, 32), np.float32), y_test=np.zeros(0, np.int64)), r"x_test holds no examples"),
    (_bad(classes=np.array(["a", "b"])), r"'classes' must name the 3 classes 0..2"),
    (_bad(y_train=np.arange(20) % 2 * 5), r"y_train has no example of label\(s\) 1, 2, 3, 4; labels must be 0..5"),
    (_bad(y_train=np.append(np.arange(19) % 3, 10**9)), r"y_train's largest label is 1000000000 but it has only 20 examples"),
])
def test_malformed_npz_files_are_refused_naming_the_file_the_array_and_the_expectation(tmp_path, arrays, message):
    path = save(tmp_path, **arrays)
    with pytest.raises(ValueError, match=str(path).replace(".", r"\.") + ": " + message):
        npz_dataset(path)


def test_an_npz_of_pickled_objects_or_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, **_bad(y_train=np.array([object()] * 20, dtype=object)))
    with pytest.raises(ValueError, match="holds Python objects"):
        npz_dataset(path)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text\.npz: not a readable \.npz file"):
        npz_dataset(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match=r"missing\.npz: no such \.npz file"):
        npz_dataset(tmp_path / "missing.npz")


def test_train_cnn1d_on_a_signals_npz_end_to_end(tmp_path, capsys):
    path = save(tmp_path, "my_signals.npz", **signals(n_train=90, n_test=30))
    out = tmp_path / "run"
    code = main(["train", "--model", "cnn1d", "--data", str(path), "--epochs", "3", "--batch-size", "16",
                 "--no-progress", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "cnn1d" and summary["test_accuracy"] is not None
    meta = json.loads((out / "config.json").read_text())
    assert meta["data"] == str(path)
    assert "test accuracy" in capsys.readouterr().out

    # the run's signals go to predict, evaluate and explain as .npy arrays, negative values included
    one = tmp_path / "one.npy"
    np.save(one, signals(n_train=1, n_test=1, length=32, seed=5)["x_test"][0])
    assert np.load(one).min() < 0
    assert main(["predict", str(out), str(one)]) == 0
    assert capsys.readouterr().out.startswith(f"{one}: ")
    assert main(["evaluate", str(out)]) == 0
    assert main(["explain", str(out), str(one), "--out", str(tmp_path / "page.html")]) == 0
    assert (tmp_path / "page.html").stat().st_size > 0
    capsys.readouterr()
    # a picture is not a signal, and a signal of the wrong length is refused naming the file
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"not read: refused before opening")
    assert main(["predict", str(out), str(picture)]) == 2
    assert "takes signals of shape (2, 32) (channels, length), not images" in capsys.readouterr().err
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((2, 31)))
    assert main(["predict", str(out), str(short)]) == 2
    assert f"{short}: expected 64 values for input shape (2, 32), got an array of shape (2, 31)" in capsys.readouterr().err


def test_train_resnet20_on_an_images_npz_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.standard_normal((24, 3, 8, 8)).astype(np.float32), y_train=np.arange(24) % 2,
                  x_test=rng.standard_normal((8, 3, 8, 8)).astype(np.float32), y_test=np.arange(8) % 2)
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet20", "--data", str(save(tmp_path, **arrays)), "--epochs", "1",
                 "--batch-size", "12", "--no-progress", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["params"] > 270_000


def test_train_with_a_model_for_the_other_kind_of_input_is_one_clear_error(tmp_path, capsys):
    path = save(tmp_path, **signals(n_train=40, n_test=6))
    code = main(["train", "--model", "resnet20", "--data", str(path), "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "resnet20 takes images of shape (C, H, W), got input shape (2, 32)" in err


def test_train_data_option_refuses_what_is_neither_a_dataset_nor_an_npz(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", "my_signals.csv"])
    assert info.value.code == 2
    assert "'my_signals.csv' is neither a dataset (digits, mnist" in capsys.readouterr().err
