"""Learn by doing: cs231n-style exercises, graded offline against glassnet's own kernels, with hints.

``glassnet exercise start NAME --dir DIR`` writes a file to fill in (see :mod:`template`);
:func:`grade` runs it in a separate process with a time limit (:mod:`runner`, :mod:`worker`),
checks every part (:mod:`checks` on the inputs of :mod:`cases`) and names the classic mistake
behind a wrong answer (:mod:`mistakes`, :mod:`hints`). For a teacher, in pytest::

    from glassnet.exercises import grade

    def test_conv():
        result = grade("conv.py")
        assert result.passed, result.table()
"""
from __future__ import annotations

import os

from ..errors import InputError, MissingInputError
from .catalog import EXERCISES, Exercise
from .report import GradeResult
from .runner import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, grade_files
from .template import exercise_of, start



def resolve(path, exercise=None) -> str:
    """The exercise ``path`` is graded as: ``exercise`` if given, else the file's header or name."""
    if not os.path.isfile(path):
        raise MissingInputError(f"no such file: {path}")
    if exercise is not None:
        if exercise not in EXERCISES:
            raise InputError(f"unknown exercise {exercise!r}; choose one of: {', '.join(EXERCISES)}")
        return exercise
    found = exercise_of(path)
    if found is None:
        raise InputError(f"cannot tell which exercise {path} is: keep its first line '# glassnet exercise: NAME' "
                         f"or name the file NAME.py (one of: {', '.join(EXERCISES)})")
    return found


def grade(path, exercise=None, timeout=DEFAULT_TIMEOUT_S, memory_mb=DEFAULT_MEMORY_MB) -> GradeResult:
    """Grade one learner file; ``result.passed`` is True only when every part passes.

    The file's code runs in a separate process for at most ``timeout`` seconds, with at most
    ``memory_mb`` MiB of address space (POSIX).
    """
    return grade_files([(path, resolve(path, exercise))], timeout, memory_mb)[0]


def grade_many(paths, timeout=DEFAULT_TIMEOUT_S, memory_mb=DEFAULT_MEMORY_MB) -> list:
    """Grade several files in one worker process (a fresh one after a file that hangs or crashes)."""
    return grade_files([(p, resolve(p)) for p in paths], timeout, memory_mb)


__all__ = ["EXERCISES", "Exercise", "GradeResult", "grade", "grade_many", "resolve", "start"]
