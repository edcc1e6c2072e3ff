"""The ``glassnet`` command: one sub-command per module of :mod:`glassnet.commands`.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.

Every command shares one error path (:func:`report_error`): an expected failure - a
:class:`glassnet.errors.GlassnetError` (bad option, file or data; missing package) or an ``OSError``
(missing path, full disk, read-only file system, permission denied) - becomes one line
``glassnet COMMAND: error: ...`` naming the file or option, and exit code 2 (usage/input) or 1
(environment); any other exception is a bug and keeps its traceback. Ctrl-C exits with 130; a
``KeyboardInterrupt`` raised with a message (e.g. how to resume) has it printed.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import sys

from . import __version__
from .errors import GlassnetError

COMMANDS = ("train", "evaluate", "predict", "features", "gradcheck", "experiments", "bench", "export", "exercise",
            "explain")


def _available():
    for name in COMMANDS:
        try:
            yield name, importlib.import_module(f"glassnet.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"glassnet.commands.{name}":
                raise


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, except where it says nothing (None, flags) or the help names it."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassnet",
        description="glassnet: a glass-box CNN library - train, evaluate, inspect and export networks.",
    )
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available():
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=_HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except (GlassnetError, OSError) as exc:
        message, code = report_error(exc)
        print(f"glassnet {args.command}: error: {message}", file=sys.stderr)
        return code
    except KeyboardInterrupt as exc:
        hint = f": {exc}" if str(exc) else ""
        print(f"glassnet {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


_USER_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}
"""OS errors about a path the user named (exit code 2); other OS errors are the environment's (1)."""
_OS_HINTS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
             errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
             errno.EPERM: "operation not permitted"}


def report_error(exc: BaseException) -> tuple[str, int]:
    """(one line naming the file or option, exit code) of an expected failure."""
    if isinstance(exc, GlassnetError):
        message, code = exc.cli_message, exc.exit_code
    elif exc.filename is not None:  # an OSError raised by the OS: name the file and say what happened
        reason = _OS_HINTS.get(exc.errno, exc.strerror or str(exc))
        target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else exc.filename
        detail = exc.strerror if exc.errno in _OS_HINTS and (exc.strerror or "").lower() != reason else None
        message = f"{target}: {reason}" + (f" ({detail})" if detail else "")
        code = 2 if exc.errno in _USER_ERRNOS else 1
    else:  # an OSError raised with glassnet's own message, e.g. FileNotFoundError("... not found in ...")
        message = str(exc)
        user = isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError))
        code = 2 if user or exc.errno in _USER_ERRNOS else 1
    return " ".join(message.split()), code


if __name__ == "__main__":
    sys.exit(main())
