"""The grading process: loads learner files and grades them, writing one JSON line per event.

Run by :mod:`runner` as ``python -m glassnet.exercises.worker EVENTS JOBS`` where JOBS is a JSON
list of ``[path, exercise]``. Events (appended to the file EVENTS and flushed at once, so that the
parent knows how far a file got if its code hangs or kills the process):
``{"job": i, "start": true}``, ``{"job": i, "part": {...}}`` per graded part, and
``{"job": i, "load_error": [key, params]}`` when the file cannot even be imported.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

from .checks import Grader, Verdict, learner_line


def load(path, index):
    """Import the learner's file as a fresh module (its folder importable, as when run as a script)."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
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
            try:
                module = load(path, index)
            except Verdict as v:
                emit(job=index, load_error=list(v.message))
                continue
            for part in Grader(exercise, module, path).run():
                emit(job=index, part=part.as_dict())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
