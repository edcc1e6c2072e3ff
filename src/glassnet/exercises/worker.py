"""The grading process: loads learner files and grades them, writing one JSON line per event.

Run by :mod:`runner` as ``python -m glassnet.exercises.worker EVENTS JOBS`` where JOBS is a JSON
list of ``[path, exercise]``. Events (appended to the file EVENTS and flushed at once, so that the
parent knows how far a file got if its code hangs or kills the process):
``{"job": i, "start": true}``, ``{"job": i, "part": {...}}`` per graded part, and
``{"job": i, "load_error": [key, params]}`` when the file cannot even be imported.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys

from .checks import Grader, Verdict, learner_line


@contextlib.contextmanager
def learner_folder(path):
    """The folder of ``path`` importable (as when the file runs as a script) while it is graded; afterwards
    the folder leaves sys.path and the modules imported from it leave sys.modules, so the next file
    graded by this worker (another learner's) cannot import this one's helpers."""
    folder = os.path.dirname(os.path.abspath(path))
    before = set(sys.modules)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)
        inside = os.path.join(os.path.realpath(folder), "")
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and os.path.realpath(file).startswith(inside):
                del sys.modules[name]


def load(path, index):
    """Import the learner's file as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"_glassnet_exercise_{index}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a broken file is a verdict, not a grader crash
        if isinstance(exc, SyntaxError):
            raise Verdict("load_failed", error=f"{type(exc).__name__}: {exc.msg}", line=exc.lineno) from None
        raise Verdict("load_failed", error=f"{type(exc).__name__}: {exc}"[:300],
                      line=learner_line(exc, os.path.abspath(path))) from None
    return module


def main(events_path, jobs_json):
    jobs = json.loads(jobs_json)
    with open(events_path, "a", encoding="utf-8") as events:
        def emit(**event):
            events.write(json.dumps(event, default=str) + "\n")
            events.flush()

        for index, (path, exercise) in enumerate(jobs):
            emit(job=index, start=True)
            with learner_folder(path):
                try:
                    module = load(path, index)
                except Verdict as v:
                    emit(job=index, load_error=list(v.message))
                    continue
                for part in Grader(exercise, module, path).run():
                    emit(job=index, part=part.as_dict())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
