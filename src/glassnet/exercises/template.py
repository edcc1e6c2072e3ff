"""The file a learner starts from, generated from the exercise's definition (:mod:`catalog`)."""
from __future__ import annotations

import os

from ..errors import InputError
from ..io.atomic import write_text
from .catalog import EXERCISES, get

MARKER = "# glassnet exercise: "


def render(name) -> str:
    """The text of ``NAME.py``: a header saying how to check it, then each function to write."""
    exercise = get(name)
    lines = [
        f"{MARKER}{exercise.name}",
        f"# {exercise.summary_en}",
        f"# {exercise.summary_zh}",
        "#",
        "# Write the body of every function below (replace `raise NotImplementedError`), then check it:",
        "# 请完成下面每个函数的函数体（替换 `raise NotImplementedError`），然后运行下面的命令检查：",
        "#",
        f"#     glassnet exercise check {exercise.name}.py            (--lang zh: 中文报告)",
        "#",
        "# Keep the function names and signatures: they are glassnet's own (glassnet.functional).",
        "# 请保留函数名和签名：它们与 glassnet 自己的实现（glassnet.functional）相同。",
        "import numpy as np",
        "",
    ]
    for function in exercise.functions:
        doc = "\n\n".join((function.doc_en, function.doc_zh)).replace("\n", "\n    ")
        doc = "\n".join(line.rstrip() for line in doc.split("\n"))
        lines += [
            "",
            f"def {function.name}({function.params}):",
            f'    """{doc}',
            "",
            f"    Returns: {function.returns}",
            '    """',
            f'    raise NotImplementedError("{function.name}")',
            "",
        ]
    return "\n".join(lines)


def exercise_of(path) -> str | None:
    """The exercise a file was started from: its header line, else its name if that is an exercise."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f.read(4096).splitlines():
            if line.startswith(MARKER) and line[len(MARKER):].strip() in EXERCISES:
                return line[len(MARKER):].strip()
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem if stem in EXERCISES else None


def start(name, directory, force=False) -> str:
    """Write ``directory/NAME.py`` (never over an existing file unless ``force``); return its path."""
    text = render(name)
    path = os.path.join(directory, f"{name}.py")
    if os.path.exists(path) and not force:
        raise InputError(f"{path} already exists; add --force to overwrite it")
    write_text(path, text)
    return path
