"""The `glassnet` command under bad input and faults, as a user meets it: each case runs the command in
a fresh process and checks its exit code (2: usage/input, 1: environment, 130: Ctrl-C), one clear
error line naming the file or option, no traceback, and that nothing saved before was changed.

Covered: every option's bad values, corrupt IDX, CIFAR-10, image-folder, model, checkpoint, config and
.npy files, missing and misplaced paths, a full disk and a read-only file system (a small tmpfs, when
this process may mount one), Ctrl-C, and SIGKILLs at seeded random moments, inside writes included.
"""
import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from glassnet.cli import report_error
from glassnet.data.idx import write_idx
from glassnet.io.tensors import read

SEED = 15  # every random choice of this module (kill moments, which write is interrupted)
TINY = ["--model", "two_layer_net", "--limit", "150", "--no-progress"]


def glassnet(*args, cwd=None, timeout=180, prelude="", launcher=()):
    """Run `glassnet ARGS` in a fresh interpreter (``prelude``: Python run first, e.g. a fault injector;
    ``launcher``: a command that starts the interpreter, e.g. one that drops privileges)."""
    return subprocess.run(_command(args, prelude, launcher), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _command(args, prelude="", launcher=()):
    code = f"{prelude}\nimport sys\nfrom glassnet.cli import main\nsys.exit(main(sys.argv[1:]))"
    return [*launcher, sys.executable, "-c", code, *map(str, args)]


def assert_fails_cleanly(result, code, *words):
    """Exit ``code``, no traceback, and a last stderr line `glassnet CMD: error: ...` holding ``words``."""
    err = result.stderr
    assert "Traceback" not in err, err
    assert result.returncode == code, f"exit {result.returncode}, expected {code}: {err}"
    lines = err.strip().splitlines()
    assert lines and ": error: " in lines[-1], err
    # one message: argparse's usage lines may come first, nothing may follow the error line
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), err
    for word in words:
        assert str(word) in lines[-1], f"{word!r} not in {lines[-1]!r}"


def snapshot(folder):
    """Every file's bytes under ``folder``, to show that a failed command changed nothing."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_run_files_readable(folder):
    """Whatever a killed run left is whole: checksummed safetensors files and JSON parse."""
    for path in folder.glob("*.safetensors"):
        read(path)
    for path in folder.glob("*.json"):
        json.loads(path.read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished one-epoch run on the digits; cases copy it before they damage anything."""
    out = tmp_path_factory.mktemp("faults") / "run"
    result = glassnet("train", *TINY, "--epochs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def untouched(run):
    """The shared run, checked unchanged after the case."""
    before = snapshot(run)
    yield run
    assert snapshot(run) == before, "a failed command changed the saved run"


# ---------------------------------------------------------------- every option's bad values
BAD_TRAIN_OPTIONS = [
    (["--epochs", "0", "--schedule", "none"], "--epochs must be >= 1"),
    (["--epochs", "-1"], "--epochs must be >= 1"),
    (["--epochs", "0"], "--epochs must be >= 1"),  # not CosineLR's T_max
    (["--epochs", "two"], "argument --epochs: invalid int value"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--lr", "nan"], "--lr must be a finite number"),
    (["--lr", "inf"], "--lr must be a finite number"),
    (["--momentum", "1.5"], "--momentum must lie in [0, 1)"),
    (["--val-fraction", "1"], "--val-fraction must lie in [0, 1)"),
    (["--val-fraction", "-0.1"], "--val-fraction must lie in [0, 1)"),
    (["--limit", "0"], "--limit must be >= 1"),
    (["--patience", "0"], "--patience must be >= 1"),
    (["--patience", "2", "--val-fraction", "0"], "--patience (early stopping) needs a validation split"),
    (["--warmup", "3", "--epochs", "2"], "--warmup (3 epochs) must be shorter"),
    (["--schedule", "step", "--step-size", "0"], "--step-size must be >= 1"),
    (["--gamma", "0"], "--gamma must be > 0"),
    (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
    (["--l1", "-0.1"], "--l1 must be >= 0"),
    (["--l2", "nan"], "--l2 must be a finite number"),
    (["--dropout", "1"], "--dropout must lie in [0, 1)"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--model", "resnet9000"], "invalid choice: 'resnet9000'"),
    (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["--data", "folder"], "needs --data-dir"),
    (["--data", "mnist", "--data-dir", "/nonexistent/mnist"], "not found in /nonexistent/mnist"),
    (["--data", "folder", "--data-dir", "/nonexistent/images"], "image folder /nonexistent/images does not exist"),
    (["--data", "cifar10", "--download"], "--download is offered for mnist and fashion_mnist only"),
    (["--limit", "3"], "cannot hold out a stratified"),
]


@pytest.mark.parametrize("args, message", BAD_TRAIN_OPTIONS, ids=[" ".join(a) for a, _ in BAD_TRAIN_OPTIONS])
def test_bad_train_option_is_one_line_naming_it_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "new"
    result = glassnet("train", "--no-progress", "--epochs", "1", *args, "--out", out)
    assert_fails_cleanly(result, 2, message)
    assert not out.exists(), "a refused run must not leave a run directory"


def test_out_on_an_existing_run_refuses_and_keeps_it(tmp_path, untouched):
    result = glassnet("train", *TINY, "--epochs", "1", "--model", "lenet5", "--out", untouched)
    assert_fails_cleanly(result, 2, f"{untouched} already holds a run", "--resume", "--overwrite")


def test_overwrite_replaces_an_existing_run(tmp_path, run):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / ".model.safetensors.x1.tmp").write_bytes(b"left by a kill")
    result = glassnet("train", *TINY, "--epochs", "1", "--schedule", "none", "--out", copy, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert json.loads((copy / "config.json").read_text())["schedule"] == "none"
    assert not list(copy.glob(".*.tmp"))


def test_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    result = glassnet("train", *TINY, "--epochs", "1", "--out", target)
    assert_fails_cleanly(result, 2, f"{target} is a file")
    assert target.read_text() == "keep me"


def test_resume_with_other_options_lists_them(untouched):
    result = glassnet("train", "--resume", untouched, "--model", "lenet5", "--lr", "0.5")
    assert_fails_cleanly(result, 2, "--lr, --model", "only --epochs")


def test_resume_with_zero_epochs_is_refused_not_ignored(untouched):
    assert_fails_cleanly(glassnet("train", "--resume", untouched, "--epochs", "0"), 2, "--epochs must be >= 1")


def test_resume_of_a_folder_that_is_not_a_run_names_config_json(tmp_path):
    result = glassnet("train", "--resume", tmp_path)
    assert_fails_cleanly(result, 2, f"{tmp_path}: no config.json")


OTHER_COMMANDS = [
    (["predict", "{run}", "x.npy", "--top-k", "0"], "--top-k must be >= 1"),
    (["export", "{run}", "{tmp}/m.onnx", "--opset", "5"], "--opset must lie in 13.."),
    (["export", "{run}", "{tmp}/m.onnx", "--opset", "99"], "--opset must lie in 13.."),
    (["export", "{run}", "{tmp}/m.onnx", "--input-shape", "0", "8", "8"], "--input-shape sizes must be >= 1"),
    (["features", "{run}", "--epochs", "0"], "--epochs must be >= 1"),
    (["features", "{run}", "--lr", "-1"], "--lr must be > 0"),
    (["features", "{run}", "--reg", "inf"], "--reg must be a finite number, got inf"),
    (["gradcheck", "--tol", "0"], "--tol must be > 0"),
    (["bench", "--quick", "--json", "{tmp}/missing/report.json"], "/missing does not exist"),
    (["experiments", "no_such_claim"], "unknown experiment(s) no_such_claim"),
    (["evaluate", "{tmp}/missing"], "no model.safetensors"),
    (["evaluate", "{run}", "--split", "everything"], "invalid choice: 'everything'"),
    (["export", "{tmp}/missing", "{tmp}/m.onnx"], "no such run directory or model file"),
]


@pytest.mark.parametrize("args, message", OTHER_COMMANDS, ids=[" ".join(a) for a, _ in OTHER_COMMANDS])
def test_bad_option_of_other_commands_is_one_line_naming_it(tmp_path, untouched, args, message):
    args = [a.format(run=untouched, tmp=tmp_path) for a in args]
    assert_fails_cleanly(glassnet(*args), 2, message)
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------- corrupt files
def _mnist(folder, train_hw=(8, 8), test_hw=(8, 8), n_test=20):
    """Tiny valid MNIST-style IDX files (10 images of each digit to train, ``n_test`` to test)."""
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 10)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (100, *train_hw), dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, *test_hw), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(n_test, dtype=np.uint8) % 10)
    return folder


def _damage(name, how):
    def apply(folder):
        path = folder / name
        data = path.read_bytes()
        if how == "truncate":
            path.write_bytes(data[:-7])
        elif how == "magic":
            path.write_bytes(b"\x01\x02" + data[2:])
        elif how == "type":
            path.write_bytes(data[:2] + b"\x42" + data[3:])
        elif how == "huge":  # a header announcing 4e9 x 4e9 x 4e9 images
            path.write_bytes(data[:4] + b"\xff\xff\xff\xff" * 3 + data[16:])
        elif how == "gzip":
            path.unlink()
            (folder / f"{name}.gz").write_bytes(gzip.compress(data)[:-10])
        elif how == "labels":
            path.write_bytes(data[:-1] + b"\x63")  # label 99
        elif how == "missing":
            path.unlink()
        return path
    return apply


IDX_FAULTS = [
    ("train-images-idx3-ubyte", "truncate", "expected 6400 payload bytes"),
    ("train-images-idx3-ubyte", "magic", "bad IDX magic number"),
    ("train-images-idx3-ubyte", "type", "unknown IDX type code 0x42"),
    ("train-images-idx3-ubyte", "huge", "payload bytes for shape (4294967295, 4294967295, 4294967295)"),
    ("t10k-images-idx3-ubyte", "gzip", "not a complete gzip file"),
    ("train-labels-idx1-ubyte", "labels", "labels must lie in 0..9, found 99"),
    ("t10k-labels-idx1-ubyte", "missing", "add --download"),
]


@pytest.mark.parametrize("name, how, message", IDX_FAULTS, ids=[f"{n}-{h}" for n, h, _ in IDX_FAULTS])
def test_corrupt_idx_file_is_named_before_training(tmp_path, name, how, message):
    data = _mnist(tmp_path / "mnist")
    path = _damage(name, how)(data)
    result = glassnet("train", *TINY, "--data", "mnist", "--data-dir", data, "--epochs", "1", "--out", tmp_path / "r")
    assert_fails_cleanly(result, 2, path.name, message)
    assert "-240518168548" not in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("case", ["test images of another size", "empty test split"])
def test_data_that_would_fail_after_training_is_refused_before_the_first_step(tmp_path, case):
    if case == "empty test split":
        data, message = _mnist(tmp_path / "mnist", n_test=0), "the test part of dataset 'mnist'"
    else:
        data, message = _mnist(tmp_path / "mnist", test_hw=(6, 6)), "test images of dataset 'mnist'"
    result = glassnet("train", *TINY, "--data", "mnist", "--data-dir", data, "--epochs", "1", "--out", tmp_path / "r")
    assert_fails_cleanly(result, 2, message)
    assert not (tmp_path / "r").exists()


def test_cifar_batch_of_the_wrong_size_is_named(tmp_path):
    folder = tmp_path / "cifar"
    folder.mkdir()
    record = np.zeros(1 + 3 * 32 * 32, np.uint8).tobytes()
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(record * 2)
    (folder / "test_batch.bin").write_bytes(record * 2 + b"\x00" * 5)
    result = glassnet("train", *TINY, "--data", "cifar10", "--data-dir", folder, "--epochs", "1",
                      "--out", tmp_path / "r")
    assert_fails_cleanly(result, 2, "test_batch.bin", "not a positive multiple")


def test_image_folder_with_a_broken_image_names_it(tmp_path):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / "imgs" / label / f"{i}.png")
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = glassnet("train", *TINY, "--data", "folder", "--data-dir", tmp_path / "imgs", "--epochs", "1",
                      "--out", tmp_path / "r")
    assert_fails_cleanly(result, 2, "broken.png", "cannot read image")


def _corrupt_model(how):
    def apply(path):
        data = path.read_bytes()
        if how == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif how == "bit flip":
            path.write_bytes(data[:-20] + bytes([data[-20] ^ 1]) + data[-19:])
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "pickle":
            path.write_bytes(b"\x80\x04\x95" + b"\x00" * 40)
        elif how == "zip":
            path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
        elif how == "huge header":
            path.write_bytes((10**12).to_bytes(8, "little") + b"{}")
        else:  # damage inside the safetensors header
            size = int.from_bytes(data[:8], "little")
            header = data[8:8 + size]
            header = b"{" + b"x" * (size - 1) if how == "header json" else header.replace(b'"F32"', b'"Q99"', 1)
            path.write_bytes(data[:8] + header + data[8 + size:])
    return apply


MODEL_FAULTS = ["truncated", "bit flip", "empty", "pickle", "zip", "huge header", "header json", "unknown dtype"]
MODEL_MESSAGES = {"truncated": "truncated", "bit flip": "checksum mismatch", "empty": "too short",
                  "pickle": "this is a pickle", "zip": "zip archive", "huge header": "truncated",
                  "header json": "not a readable safetensors file", "unknown dtype": "not a readable safetensors file"}


MODEL_CASES = [("evaluate", how) for how in MODEL_FAULTS] + [
    (command, how) for command in ("predict", "export", "features") for how in ("truncated", "bit flip")]


@pytest.mark.parametrize("command, how", MODEL_CASES, ids=[f"{c}-{h}" for c, h in MODEL_CASES])
def test_corrupt_model_file_is_named_by_every_command(tmp_path, run, how, command):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    _corrupt_model(how)(copy / "model.safetensors")
    before = snapshot(copy)
    np.save(tmp_path / "x.npy", np.zeros(64))
    extra = {"predict": [tmp_path / "x.npy"], "export": [tmp_path / "m.onnx"]}.get(command, [])
    assert_fails_cleanly(glassnet(command, copy, *extra), 2, copy / "model.safetensors", MODEL_MESSAGES[how])
    assert snapshot(copy) == before


@pytest.mark.parametrize("how", ["truncated", "bit flip", "pickle"])
def test_corrupt_checkpoint_is_named_on_resume_and_kept(tmp_path, run, how):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    _corrupt_model(how)(copy / "checkpoint.safetensors")
    before = snapshot(copy)
    result = glassnet("train", "--resume", copy, "--epochs", "2", "--no-progress")
    assert_fails_cleanly(result, 2, copy / "checkpoint.safetensors", MODEL_MESSAGES[how])
    assert snapshot(copy) == before


@pytest.mark.parametrize("content, message", [("{bad json", "not valid JSON"), ("[1, 2]", "expected a JSON object"),
                                              (b"\xff\xfe\x00", "not valid JSON")])
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_corrupt_config_json_is_named(tmp_path, run, content, message, command):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / "config.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(copy)
    args = ["evaluate", copy] if command == "evaluate" else ["train", "--resume", copy, "--no-progress"]
    assert_fails_cleanly(glassnet(*args), 2, path, message)
    assert snapshot(copy) == before


NPY_FAULTS = {
    "nan": (lambda p: np.save(p, np.full(64, np.nan)), "NaN or infinite"),
    "inf": (lambda p: np.save(p, np.full(64, np.inf)), "NaN or infinite"),
    "huge values": (lambda p: np.save(p, np.full(64, 1e30)), "raw pixels must lie in 0..16"),
    "negative values": (lambda p: np.save(p, np.full(64, -3.0)), "raw pixels must lie in 0..16"),
    "objects": (lambda p: np.save(p, np.array([{}] * 64, dtype=object), allow_pickle=True), "not a .npy array of numbers"),
    "strings": (lambda p: np.save(p, np.array(["7"] * 64)), "found strings"),
    "wrong size": (lambda p: np.save(p, np.zeros((5, 5))), "expected 64 values for input shape (1, 8, 8)"),
    "truncated": (lambda p: (np.save(p, np.zeros(64)), p.write_bytes(p.read_bytes()[:90])), "not a .npy array"),
    "missing": (lambda p: None, "No such file or directory"),
}


@pytest.mark.parametrize("case", list(NPY_FAULTS))
def test_predict_refuses_garbage_npy_naming_the_file(tmp_path, untouched, case):
    make, message = NPY_FAULTS[case]
    path = tmp_path / "input.npy"
    make(path)
    assert_fails_cleanly(glassnet("predict", untouched, path), 2, path, message)


# ---------------------------------------------------------------- the environment: OS errors
@pytest.mark.parametrize("code, expected, words", [
    (errno.ENOSPC, 1, ["the disk is full"]), (errno.EROFS, 1, ["read-only"]), (errno.EACCES, 1, ["permission denied"]),
    (errno.ENOENT, 2, ["No such file"]), (errno.EISDIR, 2, ["Is a directory"]),
])
def test_os_errors_become_one_line_naming_the_file_with_exit_1_for_the_environment(code, expected, words):
    message, exit_code = report_error(OSError(code, os.strerror(code), "/runs/r/checkpoint.safetensors"))
    assert exit_code == expected and message.startswith("/runs/r/checkpoint.safetensors: ")
    for word in words:
        assert word in message


def test_an_unexpected_exception_keeps_its_traceback(tmp_path):
    bug = "import glassnet.commands.gradcheck as g\ndef boom(args): raise ZeroDivisionError('a bug')\ng.run = boom"
    result = glassnet("gradcheck", prelude=bug)
    assert result.returncode == 1 and "Traceback" in result.stderr and "ZeroDivisionError" in result.stderr


@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MiB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_during_a_run_is_one_line_and_keeps_the_last_checkpoint(tmp_path, run, tmpfs):
    copy = tmpfs / "run"
    shutil.copytree(run, copy)
    free = shutil.disk_usage(tmpfs).free
    (tmpfs / "filler").write_bytes(b"\0" * (free - 8 * 1024))  # room for config.json, not for a checkpoint
    before = snapshot(copy)
    result = glassnet("train", "--resume", copy, "--epochs", "2", "--no-progress")
    assert_fails_cleanly(result, 1, "the disk is full")
    # config.json takes the new --epochs; the checkpoint, the model and the log stay the last good ones
    # (metrics.csv is written after the checkpoint, so it never logs an epoch the checkpoint lacks)
    after = snapshot(copy)
    kept = ("checkpoint.safetensors", "model.safetensors", "metrics.csv", "summary.json", "history.png", "confusion.png")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    read(copy / "checkpoint.safetensors")
    assert not list(copy.glob(".*.tmp"))


def test_full_disk_for_a_new_run_is_one_line(tmp_path, tmpfs):
    (tmpfs / "filler").write_bytes(b"\0" * (shutil.disk_usage(tmpfs).free - 4 * 1024))
    result = glassnet("train", *TINY, "--epochs", "1", "--out", tmpfs / "r")
    assert_fails_cleanly(result, 1, "the disk is full", tmpfs / "r")


def test_read_only_file_system_is_one_line(tmp_path, tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    result = glassnet("train", *TINY, "--epochs", "1", "--out", tmpfs / "r")
    assert_fails_cleanly(result, 1, "read-only", tmpfs / "r")


def _without_root_override():
    """A launcher under which file permissions hold: root loses the capability to override them."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a folder unwritable")
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--")


def test_unwritable_folder_is_one_line(tmp_path):
    launcher = _without_root_override()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = glassnet("train", *TINY, "--epochs", "1", "--out", locked / "r", launcher=launcher)
    assert_fails_cleanly(result, 1, "permission denied", locked / "r")


def test_unwritable_run_directory_keeps_the_run(tmp_path, run):
    launcher = _without_root_override()
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = snapshot(copy)
    copy.chmod(0o500)
    try:
        result = glassnet("train", "--resume", copy, "--epochs", "2", "--no-progress", launcher=launcher)
    finally:
        copy.chmod(0o755)
    assert_fails_cleanly(result, 1, "permission denied", copy)
    assert snapshot(copy) == before


# ---------------------------------------------------------------- interrupts and kills
def _start(*args):
    """Start `glassnet ARGS` in a fresh interpreter without waiting for it."""
    return subprocess.Popen(_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ctrl_c_exits_130_with_a_resume_hint(tmp_path):
    out = tmp_path / "r"
    proc = _start("train", *TINY, "--epochs", "500", "--out", out)  # far longer than the test waits
    try:
        first = proc.stdout.readline()  # the run directory is announced before the first epoch
        assert first.strip() == f"run directory {out}" and (out / "config.json").is_file()
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (f"glassnet train: interrupted: {out} keeps its last finished epoch; "
                                            f"continue with `glassnet train --resume {out}`")
    assert_run_files_readable(out)  # the resume itself is tested with the kills below


# A fault injector: SIGKILL this process in the middle of its K-th file write (half of the bytes written
# to the temporary file), the worst moment for a checkpoint, a model file or the metrics.
KILL_INSIDE_WRITE = textwrap.dedent("""
    import os, pathlib, signal
    _writes = [0]
    def _dying(original):
        def write(self, data, *args, **kwargs):
            _writes[0] += 1
            if _writes[0] == {k}:
                with open(self, "wb") as fh:
                    fh.write((data.encode() if isinstance(data, str) else data)[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, data, *args, **kwargs)
        return write
    pathlib.Path.write_bytes = _dying(pathlib.Path.write_bytes)
    pathlib.Path.write_text = _dying(pathlib.Path.write_text)
""")
KILL_ARGS = [*TINY, "--epochs", "2", "--batch-size", "32"]
WRITES = 7  # config.json; metrics.csv and checkpoint after each epoch; model and summary.json at the end


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The uninterrupted run that every killed and resumed run must end up equal to."""
    out = tmp_path_factory.mktemp("whole") / "r"
    result = glassnet("train", *KILL_ARGS, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def _kill_moments():
    rng = np.random.default_rng(SEED)
    first_checkpoint = 3  # killed inside the first epoch's checkpoint write: the resume starts from epoch 1
    later = int(rng.integers(first_checkpoint + 1, WRITES + 1))
    return [("inside write", first_checkpoint), ("inside write", later),
            ("at a random time", round(float(rng.uniform(1.0, 3.0)), 2))]


@pytest.mark.parametrize("how, when", _kill_moments(), ids=lambda v: str(v))
def test_run_killed_at_a_seeded_random_moment_resumes_to_the_uninterrupted_weights(tmp_path, whole, how, when):
    out = tmp_path / "r"
    if how == "inside write":
        killed = glassnet("train", *KILL_ARGS, "--out", out, prelude=KILL_INSIDE_WRITE.replace("{k}", str(when)))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    else:
        proc = _start("train", *KILL_ARGS, "--out", out)
        time.sleep(when)
        proc.kill()
        proc.communicate(timeout=60)
    if not (out / "config.json").is_file():  # killed before the run directory was complete: start again
        assert not (out / "checkpoint.safetensors").exists()
        return
    assert_run_files_readable(out)  # every file is the old or the new version, never half of one
    result = glassnet("train", "--resume", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not list(out.glob(".*.tmp")), "temporary files of the killed write must be cleaned up"
    a, b = read(out / "model.safetensors")[0], read(whole / "model.safetensors")[0]
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- paths, help and wording
def test_relative_data_dir_is_stored_absolute_so_the_run_works_from_anywhere(tmp_path):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    _mnist(work / "data")
    elsewhere.mkdir()
    result = glassnet("train", *TINY, "--data", "mnist", "--data-dir", "data", "--epochs", "1", "--out", "r", cwd=work)
    assert result.returncode == 0, result.stderr
    assert json.loads((work / "r" / "config.json").read_text())["data_dir"] == str(work / "data")
    result = glassnet("evaluate", work / "r", cwd=elsewhere)
    assert result.returncode == 0 and "mnist" in result.stdout, result.stderr


def test_help_of_every_command_shows_every_default():
    import argparse

    from glassnet.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = []
    for name, sub in commands.items():
        text = " ".join(sub.format_help().split())
        for action in sub._actions:
            default = action.default
            if not action.option_strings or default in (None, argparse.SUPPRESS) or isinstance(default, bool):
                continue
            shown = f"(default: {default})" in text or f"(default {default})" in text
            if not shown:
                missing.append(f"{name} {action.option_strings[-1]}={default}")
    assert not missing, missing


def test_python_api_messages_keep_python_words_and_the_cli_gets_option_names(tmp_path):
    from glassnet.data import load_data
    from glassnet.errors import GlassnetError

    with pytest.raises(ValueError) as info:
        load_data("folder")
    assert "root=" in str(info.value) and "--data-dir" in info.value.cli_message
    with pytest.raises(FileNotFoundError) as info:
        load_data("mnist", root=tmp_path)
    assert "download=True" in str(info.value) and "--download" in info.value.cli_message
    assert isinstance(info.value, GlassnetError)


def test_resume_with_fewer_epochs_than_trained_is_refused_and_keeps_the_run(tmp_path, whole):
    copy = tmp_path / "r"
    shutil.copytree(whole, copy)
    before = snapshot(copy)
    result = glassnet("train", "--resume", copy, "--epochs", "1", "--no-progress")
    assert_fails_cleanly(result, 2, "--epochs (1) must not be below the 2 epochs", copy)
    assert snapshot(copy) == before


def test_evaluate_on_the_validation_split_of_a_run_without_one_is_one_line(tmp_path):
    out = tmp_path / "r"
    assert glassnet("train", *TINY, "--epochs", "1", "--val-fraction", "0", "--out", out).returncode == 0
    result = glassnet("evaluate", out, "--split", "val")
    assert_fails_cleanly(result, 2, f"{out}: the run has no val examples (it was trained with --val-fraction 0)")
