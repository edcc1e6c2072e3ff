"""The failures that are the user's to fix, not glassnet's bugs.

Every exception here derives from :class:`GlassnetError` and from the built-in type a Python caller
would expect (``ValueError``, ``RuntimeError``, ...), so ``except ValueError`` keeps working. The
``glassnet`` command prints a GlassnetError (and an ``OSError``) as one line and exits with its
``exit_code``: 2 for a bad option, file or data (usage/input), 1 for the environment (a missing
package, no GPU, no MPI). Anything else is a bug and keeps its traceback.

A message may name a remedy twice: once in Python words (``download=True``) and once in command-line
words (``--download``); :attr:`GlassnetError.cli_message` is the text the command prints.
"""
from __future__ import annotations


class GlassnetError(Exception):
    """An expected failure caused by the input or the environment; the message names the file or option.

    ``cli``: the same message worded for the command line (option names instead of argument names);
    defaults to the message itself.
    """

    exit_code = 2

    def __init__(self, message: str, *, cli: str | None = None):
        super().__init__(message)
        self.cli_message = cli or message


class InputError(GlassnetError, ValueError):
    """A bad option value, data file, model file or array: the user's input is wrong (exit code 2)."""


class MissingInputError(GlassnetError, FileNotFoundError):
    """A file or folder the input names is not there (exit code 2)."""


class SetupError(GlassnetError, RuntimeError):
    """The environment lacks something: a package, a GPU, an MPI launcher (exit code 1)."""

    exit_code = 1


class MissingPackageError(GlassnetError, ImportError):
    """An optional package is not installed; the message says how to install it (exit code 1)."""

    exit_code = 1


def option_error(key: str, problem: str) -> InputError:
    """An InputError about configuration key ``key`` (``batch_size``): the CLI's text names ``--batch-size``."""
    return InputError(f"{key} {problem}", cli=f"--{key.replace('_', '-')} {problem}")
