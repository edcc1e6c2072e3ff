"""`glassnet exercise`: templates, grading in a time-limited subprocess, and the hints.

For every exercise: glassnet's reference passes, the untouched template fails with verdicts (no
traceback), and a classic mistake fails with its hint. Files are graded in batches (one worker
process per batch) to keep the suite fast; the time-limit tests use a limit of a few seconds.
"""
import inspect
import json
import os
import shutil
import sys
import time

import pytest

from glassnet import functional
from glassnet.cli import main
from glassnet.exercises import EXERCISES, grade, grade_many, start
from glassnet.exercises import catalog, hints, mistakes, template
from glassnet.exercises.checks import planned_parts
from glassnet.exercises.report import MESSAGES

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "exercise_files"))
from exercise_mistakes import MISTAKES, MORE_MISTAKES  # noqa: E402

FILES = os.path.join(os.path.dirname(__file__), "exercise_files")


def _write(folder, name, text):
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _all_messages(result):
    return "\n".join(result.table("en").splitlines() + result.table("zh").splitlines())


# ---------------------------------------------------------------- the catalogue and the templates
def test_exercise_list_has_every_exercise_the_issue_names():
    assert set(EXERCISES) >= {
        "affine", "relu", "leaky_relu", "sigmoid", "conv", "max_pool", "avg_pool", "global_avg_pool", "batchnorm",
        "dropout", "softmax_loss", "svm_loss", "bce_loss", "mse_loss", "two_layer_net", "sgd_momentum", "adam"}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_template_signatures_are_a_prefix_of_glassnet_functional(name):
    for function in EXERCISES[name].functions:
        reference = getattr(functional, function.name, None)
        if reference is None:   # two_layer_net_loss, sgd_momentum, adam: no kernel of their own
            continue
        scope = {}
        exec(f"def f({function.params}): pass", scope)
        want = [(p.name, p.default) for p in inspect.signature(scope["f"]).parameters.values()]
        got = [(p.name, p.default) for p in inspect.signature(reference).parameters.values()]
        assert got[: len(want)] == want, function.name
        assert all(p.default is not p.empty for p in list(inspect.signature(reference).parameters.values())[len(want):])


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_template_has_header_english_and_chinese_docstrings_and_unwritten_bodies(name):
    text = template.render(name)
    assert text.startswith(f"# glassnet exercise: {name}\n")
    assert f"glassnet exercise check {name}.py" in text
    scope = {}
    exec(compile(text, f"{name}.py", "exec"), scope)
    for function in EXERCISES[name].functions:
        fn = scope[function.name]
        assert function.doc_en.splitlines()[0] in fn.__doc__ and function.doc_zh.splitlines()[0] in fn.__doc__
        assert any("\u4e00" <= ch <= "\u9fff" for ch in function.doc_zh)
        with pytest.raises(NotImplementedError):
            fn(*[None] * sum(p.default is p.empty for p in inspect.signature(fn).parameters.values()))


def test_start_writes_the_file_and_never_overwrites_without_force(tmp_path):
    path = start("relu", str(tmp_path / "hw"))
    assert open(path, encoding="utf-8").read() == template.render("relu")
    open(path, "w").write("# my work\n")
    with pytest.raises(ValueError, match="already exists; add --force"):
        start("relu", str(tmp_path / "hw"))
    assert open(path).read() == "# my work\n"
    start("relu", str(tmp_path / "hw"), force=True)
    assert open(path, encoding="utf-8").read() == template.render("relu")


def test_every_hint_and_message_has_english_and_chinese_text():
    used = {hint for detectors in mistakes.DETECTORS.values() for hint, _ in detectors}
    used |= set(mistakes.OVERFLOW.values()) | {hint for _, hint in MISTAKES.values()}
    assert used <= set(hints.HINTS)
    for en, zh in list(hints.HINTS.values()) + list(MESSAGES.values()):
        assert en and any("\u4e00" <= ch <= "\u9fff" for ch in zh)


# ---------------------------------------------------------------- grading every exercise
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every exercise graded three ways, one worker process per way: reference, untouched, mistake."""
    folder = tmp_path_factory.mktemp("exercises")
    results = {}
    for way in ("reference", "untouched", "mistake"):
        (folder / way).mkdir()
        paths = []
        for name in EXERCISES:
            if way == "reference":
                text = f"# glassnet exercise: {name}\nfrom glassnet.exercises.reference import *  # noqa\n"
            elif way == "untouched":
                text = template.render(name)
            else:
                text = f"# glassnet exercise: {name}\n" + MISTAKES[name][0]
            paths.append(_write(folder / way, name, text))
        results[way] = dict(zip(EXERCISES, grade_many(paths, timeout=60)))
    return results


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_glassnet_reference_passes_every_part(graded, name):
    result = graded["reference"][name]
    assert result.passed, result.table()
    assert [(p["function"], p["kind"]) for p in result.parts] == planned_parts(name)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_untouched_template_fails_with_a_verdict_and_no_traceback(graded, name):
    result = graded["untouched"][name]
    assert not result.passed
    assert "not_written" in result.hints()
    for part in result.failures():
        assert part["message"], part
    assert "Traceback" not in _all_messages(result)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_classic_mistake_fails_with_its_hint(graded, name):
    result = graded["mistake"][name]
    hint = MISTAKES[name][1]
    assert not result.passed
    assert hint in result.hints(), result.table()
    assert hints.text(hint, "en") in result.table("en") and hints.text(hint, "zh") in result.table("zh")


def test_every_recognised_mistake_earns_its_hint(tmp_path):
    """One answer per mistake the grader knows (beyond the one per exercise above), in one worker."""
    paths = []
    for i, (name, source, _) in enumerate(MORE_MISTAKES):
        (tmp_path / str(i)).mkdir()
        paths.append(_write(tmp_path / str(i), name, source))
    wrong = []
    for (name, _, hint), result in zip(MORE_MISTAKES, grade_many(paths, timeout=60)):
        if result.passed or hint not in result.hints():
            wrong.append(f"{name} / {hint}: got {result.hints()}\n{result.table()}")
    assert not wrong, "\n".join(wrong)
    known = {hint for detectors in mistakes.DETECTORS.values() for hint, _ in detectors}
    tested = {hint for _, hint in MISTAKES.values()} | {hint for _, _, hint in MORE_MISTAKES}
    assert known <= tested


# ---------------------------------------------------------------- the time limit and broken files
def test_infinite_loop_is_stopped_reported_and_the_next_file_still_graded(tmp_path):
    looping = _write(tmp_path, "relu", "# glassnet exercise: relu\nimport numpy as np\n\n"
                     "def relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
                     "def relu_backward(dout, cache):\n    while True:\n        pass\n")
    (tmp_path / "next").mkdir()
    reference = _write(tmp_path / "next", "mse_loss", "from glassnet.exercises.reference import mse_loss\n")
    begin = time.monotonic()
    loop_result, next_result = grade_many([looping, reference], timeout=3)
    assert time.monotonic() - begin < 60
    stopped = [p for p in loop_result.parts if p["message"] and p["message"][0] == "timeout"]
    assert [(p["function"], p["kind"]) for p in stopped] == [("relu_backward", "shape_dtype")]
    assert stopped[0]["hint"] == "timeout"
    assert "stopped after the time limit of 3 s" in loop_result.table()
    assert [p["passed"] for p in loop_result.parts[:3]] == [True, True, True]   # the forward was graded
    assert next_result.passed, next_result.table()


def test_each_file_imports_its_own_folders_helpers_when_graded_in_one_worker(tmp_path):
    relu = "from helpers import forward, backward\n\ndef relu_forward(x):\n    return forward(x)\n\n" \
           "def relu_backward(dout, cache):\n    return backward(dout, cache)\n"
    helpers = {"right": "import numpy as np\ndef forward(x):\n    return np.maximum(x, 0), x\n"
                        "def backward(dout, x):\n    return dout * (x > 0)\n",
               "wrong": "def forward(x):\n    return abs(x), x\n\ndef backward(dout, x):\n    return dout\n"}
    paths = []
    for student in ("right", "wrong"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "helpers.py").write_text(helpers[student])
        paths.append(_write(tmp_path / student, "relu", relu))
    right, wrong = grade_many(paths, timeout=30)
    assert right.passed, right.table()
    assert not wrong.passed


def test_a_runaway_allocation_fails_in_its_own_part_under_the_memory_cap(tmp_path):
    hog = _write(tmp_path, "relu", "import numpy as np\n\ndef relu_forward(x):\n"
                 "    np.empty(2 << 30, dtype=np.uint8)  # 2 GiB of address space, never touched\n"
                 "    return np.maximum(x, 0), x\n\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n")
    capped = grade(hog, timeout=30, memory_mb=1024)
    assert not capped.passed and "relu_forward raised MemoryError" in capped.table()
    assert "Traceback" not in _all_messages(capped)
    assert grade(hog, timeout=30, memory_mb=8192).passed   # the same file with room for it


@pytest.mark.parametrize("option, message", [
    (["--memory", "100"], "--memory must be at least 256 MiB"),
    (["--timeout", "0"], "--timeout must be a positive number of seconds, got 0"),
    (["--timeout", "nan"], "--timeout must be a positive number of seconds, got nan"),
    (["--timeout", "inf"], "--timeout must be a positive number of seconds, got inf"),
])
def test_exercise_check_refuses_limits_it_cannot_keep(tmp_path, capsys, option, message):
    path = _write(tmp_path, "relu", "def relu_forward(x):\n    return x, x\n")
    assert main(["exercise", "check", str(path), *option]) == 2
    assert message in capsys.readouterr().err


def test_sys_exit_os_exit_and_syntax_errors_become_verdicts(tmp_path):
    files = {
        "exits": ("relu", "import sys\ndef relu_forward(x):\n    sys.exit(3)\n\ndef relu_backward(dout, cache):\n    return dout\n"),
        "kills": ("sigmoid", "import os\ndef sigmoid_forward(x):\n    os._exit(7)\n\ndef sigmoid_backward(dout, cache):\n    return dout\n"),
        "broken": ("mse_loss", "def mse_loss(pred, target)\n    return 0\n"),
        "raises": ("global_avg_pool", "def global_avg_pool_forward(x):\n    return x[99], None\n\n"
                   "def global_avg_pool_backward(dout, cache):\n    return dout\n"),
    }
    paths = []
    for folder, (name, text) in files.items():
        (tmp_path / folder).mkdir()
        paths.append(_write(tmp_path / folder, name, text))
    exits, kills, broken, raises = grade_many(paths, timeout=20)
    assert "relu_forward called sys.exit(3)" in exits.table()
    assert "exit code 7" in kills.table() and not kills.passed
    assert len(kills.parts) == len(planned_parts("sigmoid"))
    assert broken.parts[0]["message"][0] == "load_failed" and "SyntaxError" in broken.table() and "(line 1)" in broken.table()
    assert "global_avg_pool_forward raised IndexError" in raises.table() and "(line 2)" in raises.table()
    for result in (exits, kills, broken, raises):
        assert not result.passed and "Traceback" not in _all_messages(result)


# ---------------------------------------------------------------- the command, end to end (the issue's "done when")
def test_conv_done_when_start_fails_loops_pass_and_assignment_gets_the_accumulate_hint(tmp_path, capsys):
    hw = tmp_path / "hw"
    assert main(["exercise", "start", "conv", "--dir", str(hw)]) == 0
    capsys.readouterr()
    assert main(["exercise", "check", str(hw / "conv.py")]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "not written yet" in out

    shutil.copy(os.path.join(FILES, "conv_loops.py"), hw / "conv.py")
    assert main(["exercise", "check", str(hw / "conv.py")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "8 of 8 parts pass" in out

    loops = (hw / "conv.py").read_text()
    accumulate = "dxp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += "
    assert loops.count(accumulate) == 1
    (hw / "conv.py").write_text(loops.replace(accumulate, accumulate.replace("+=", "=")))
    assert main(["exercise", "check", str(hw / "conv.py"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    failed = {p["part"]: p for p in report["parts"] if not p["passed"]}
    assert failed["conv_backward: values vs glassnet"]["hint"] == "accumulate"
    assert "accumulate with +=" in failed["conv_backward: values vs glassnet"]["hint_text"]
    assert "conv_forward: values vs glassnet" not in failed
    assert main(["exercise", "check", str(hw / "conv.py"), "--lang", "zh"]) == 1
    assert "用 += 累加" in capsys.readouterr().out


def test_cli_list_and_clean_errors(tmp_path, capsys):
    assert main(["exercise", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(EXERCISES)
    assert main(["exercise", "start", "nosuch", "--dir", str(tmp_path)]) == 2
    assert "unknown exercise 'nosuch'" in capsys.readouterr().err
    assert main(["exercise", "start", "relu", "--dir", str(tmp_path)]) == 0
    assert main(["exercise", "start", "relu", "--dir", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["exercise", "check", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    _write(tmp_path, "homework", "x = 1\n")
    assert main(["exercise", "check", str(tmp_path / "homework.py")]) == 2
    assert "cannot tell which exercise" in capsys.readouterr().err
    assert main(["exercise", "check", str(tmp_path / "homework.py"), "--exercise", "relu"]) == 1
    assert "the file has no function relu_forward" in capsys.readouterr().out


def test_grade_result_for_pytest_reports_passed_and_the_table(tmp_path):
    result = grade(os.path.join(FILES, "conv_loops.py"), timeout=60)
    assert result.passed and result.exercise == "conv"
    assert result.to_dict()["passed_parts"] == len(planned_parts("conv"))
    assert catalog.get("conv").function("conv_forward").params == "x, w, b, stride=1, pad=0"


def test_results_that_are_not_numbers_fail_that_part_only(tmp_path):
    path = _write(tmp_path, "relu", "def relu_forward(x):\n    return 'out', None\n\n"
                  "def relu_backward(dout, cache):\n    return {'not': 'an array'}\n")
    result = grade(path, timeout=20)
    assert not result.passed and len(result.parts) == len(planned_parts("relu"))
    assert result.parts[0]["passed"] and all(p["message"] for p in result.failures())
    assert "relu_forward: out should be an array of numbers, got str" in result.table()
    assert "relu_backward: dx should be an array of numbers, got dict" in result.table()


@pytest.mark.parametrize("action", [[], ["list"], ["start"], ["check"]])
def test_exercise_help_exits_0_and_names_the_command(capsys, action):
    with pytest.raises(SystemExit) as info:
        main(["exercise", *action, "--help"])
    assert info.value.code == 0 and "glassnet exercise" in capsys.readouterr().out
