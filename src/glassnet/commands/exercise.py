"""Learn by doing: write a layer's forward and backward yourself and have glassnet grade it offline,
part by part, with a hint naming the likely mistake. `list` shows the exercises, `start NAME --dir DIR`
writes DIR/NAME.py to fill in, `check FILE` grades it (exit 0 only when every part passes).
"""
from __future__ import annotations

import json
import math

from ..errors import InputError
from ..exercises.runner import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S

HELP = "cs231n-style exercises graded offline against glassnet's kernels, with hints"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    fmt = {"formatter_class": p.formatter_class}
    sub.add_parser("list", help="list the exercises", **fmt)
    start = sub.add_parser("start", help="write NAME.py, the file to fill in, into --dir", **fmt)
    start.add_argument("name", metavar="NAME")
    start.add_argument("--dir", default=".", help="folder to write NAME.py into (default: the current folder)")
    start.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = sub.add_parser("check", help="grade a file (exit 0 only when every part passes)", **fmt)
    check.add_argument("file", metavar="FILE")
    check.add_argument("--exercise", default=None, help="grade FILE as this exercise (default: from its header or name)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the report and hints")
    check.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                       help="seconds the file's code may run in all (an endless loop is stopped then)")
    check.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MB, metavar="MB",
                       help="address space the file's code may use, in MiB (a runaway allocation fails as a MemoryError)")


def run(args) -> int:
    from .. import exercises

    if args.action == "list":
        width = max(map(len, exercises.EXERCISES))
        for name, exercise in exercises.EXERCISES.items():
            print(f"{name:<{width}}  {exercise.summary_en}")
        return 0
    if args.action == "start":
        path = exercises.start(args.name, args.dir, force=args.force)
        print(f"wrote {path}; fill it in, then run: glassnet exercise check {path}")
        return 0
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise InputError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.memory < 256:
        raise InputError(f"--memory must be at least 256 MiB (the grader itself needs them), got {args.memory}")
    result = exercises.grade(args.file, exercise=args.exercise, timeout=args.timeout, memory_mb=args.memory)
    if args.json:
        print(json.dumps(result.to_dict(args.lang), ensure_ascii=False, indent=2))
    else:
        print(result.table(args.lang))
    return 0 if result.passed else 1
