"""The README's Python examples run as written, in order, in one namespace (a later block may use an
earlier block's model), and the Sequential example reaches the same accuracy on every run."""
import contextlib
import io
import re
from pathlib import Path


README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _run(source, namespace):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(README), "exec"), namespace)
    return out.getvalue()


def test_readme_has_the_examples_this_test_runs():
    blocks = python_blocks()
    assert len(blocks) >= 4
    assert any("conv_forward" in b for b in blocks) and any("GridSearchCV" in b for b in blocks)


def test_every_readme_python_block_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples save files into the working directory
    namespace = {"__name__": "__readme__"}
    for block in python_blocks():
        _run(block, namespace)
        if "conv_backward" in block:
            assert namespace["dx"].shape == namespace["x"].shape and namespace["dw"].shape == namespace["w"].shape
    assert (tmp_path / "digits.safetensors").is_file() and (tmp_path / "digits.onnx").is_file()
    assert 0 <= namespace["search"].best_score_ <= 1


def test_readme_sequential_example_gives_the_same_accuracy_on_every_run():
    block = next(b for b in python_blocks() if "nn.Sequential(" in b)
    printed = [re.search(r"test accuracy (\S+)", _run(block, {"__name__": "__readme__"})).group(1) for _ in range(2)]
    assert printed[0] == printed[1]
    assert float(printed[0]) > 0.9
