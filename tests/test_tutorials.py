"""The tutorial notebooks (docs/tutorials/{en,zh}): generated from their shared sources, committed
without outputs, and executed top to bottom in a fresh kernel (matplotlib's Agg backend)."""
import importlib.util
import json
import os
import re
from pathlib import Path

import nbclient
import nbformat
import pytest
from ipykernel import kernelspec as ipykernel_kernelspec

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "docs" / "tutorials"
KERNEL = "glassnet-tests"
CELL_TIMEOUT_S = 300


def _load_builder():
    spec = importlib.util.spec_from_file_location("tutorials_build", TUTORIALS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_builder()
NOTEBOOKS = [(topic, language) for topic in build.topics() for language in build.LANGUAGES]


def test_there_are_at_least_six_topics_each_in_english_and_chinese():
    assert len(build.topics()) >= 6
    for topic, language in NOTEBOOKS:
        assert build.path(topic, language).is_file(), f"missing {build.path(topic, language)}"
    committed = {p.relative_to(TUTORIALS).as_posix() for p in TUTORIALS.glob("*/*.ipynb")}
    assert committed == {f"{language}/{topic}.ipynb" for topic, language in NOTEBOOKS}, "a notebook without a source"


@pytest.mark.parametrize("topic,language", NOTEBOOKS)
def test_committed_notebook_is_exactly_what_build_py_writes_from_its_source(topic, language):
    committed = build.path(topic, language).read_text(encoding="utf-8")
    assert committed == build.render(topic, language), (
        f"{build.path(topic, language)} differs from docs/tutorials/source/{topic}.md: run python docs/tutorials/build.py")


@pytest.mark.parametrize("topic,language", NOTEBOOKS)
def test_committed_notebook_has_no_outputs_or_execution_counts(topic, language):
    nb = json.loads(build.path(topic, language).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{topic} ({language}) has outputs"


def test_english_and_chinese_notebooks_share_every_code_cell():
    for topic in build.topics():
        codes = [[c.source for c in build.notebook(topic, language).cells if c.cell_type == "code"]
                 for language in build.LANGUAGES]
        assert codes[0] and all(c == codes[0] for c in codes), topic


def test_chinese_notebooks_are_written_in_chinese_and_english_ones_are_not():
    def han(text):
        return sum("\u4e00" <= ch <= "\u9fff" for ch in text)

    for topic in build.topics():
        zh = "".join(c.source for c in build.notebook(topic, "zh").cells if c.cell_type == "markdown")
        en = "".join(c.source for c in build.notebook(topic, "en").cells if c.cell_type == "markdown")
        assert han(zh) > 300 and han(en) == 0, topic




def test_every_notebook_links_its_experiments_and_exercises():
    from glassnet.exercises import EXERCISES
    from glassnet.experiments.registry import EXPERIMENTS

    for topic, language in NOTEBOOKS:
        text = "".join(c.source for c in build.notebook(topic, language).cells if c.cell_type == "markdown")
        started = re.findall(r"glassnet exercise start (\w+) --dir", text)
        assert started and set(started) <= set(EXERCISES), f"{topic} ({language}): exercises {started}"
        named = [line for line in text.splitlines() if "glassnet experiments " in line]
        assert named, f"{topic} ({language}) names no experiment"
        for line in named:
            words = line.split("glassnet experiments ")[1].split("`")[0].split()
            names = [w for w in words if not w.startswith("-")]
            assert names and set(names) <= set(EXPERIMENTS), f"{topic}: unknown experiment in {line!r}"


def test_source_parser_refuses_a_markdown_cell_without_its_translation():
    with pytest.raises(ValueError, match="followed by its 'zh' block"):
        build.parse("#%% en\nhello\n#%% code\nx = 1\n")
    with pytest.raises(ValueError, match="followed by its 'zh' block"):
        build.parse("#%% zh\n你好\n")
    with pytest.raises(ValueError, match="empty 'code' block"):
        build.parse("#%% code\n\n#%% en\na\n#%% zh\n甲\n")


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel spec running this very interpreter (so the notebooks import the glassnet under test)."""
    root = tmp_path_factory.mktemp("jupyter")
    ipykernel_kernelspec.write_kernel_spec(path=str(root / "kernels" / KERNEL))
    return root


@pytest.mark.parametrize("topic,language", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_without_error(topic, language, kernel_name, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_name))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(ROOT / "src"), os.environ.get("PYTHONPATH")] if p))
    nb = nbformat.read(build.path(topic, language), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(o.output_type == "stream" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
