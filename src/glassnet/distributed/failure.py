"""One rank fails, the whole job ends: no silent hang in a collective.

If rank ``r`` raises and simply exits, the other ranks wait forever in their next Allreduce (and
rank ``r`` itself may wait in ``MPI_Finalize``). So an error on any rank is printed as
``rank r: <Error>: <message>`` and followed by ``MPI_Abort``, which makes the launcher kill every
process of the job and exit non-zero. A rank killed outright (SIGKILL, out of memory) is noticed by
``mpirun`` itself, which ends the job and names the rank.

Use :func:`abort_on_error` around the body of a distributed program, and/or
:func:`install_excepthook` for exceptions nobody catches. In a world of one process nothing is
aborted: the exception propagates as usual.
"""
from __future__ import annotations

import contextlib
import sys
import traceback

# Errors whose message says everything (no traceback printed); anything else also prints its traceback.
_PLAIN = (ValueError, FileNotFoundError, KeyboardInterrupt)


def report(comm, exc: BaseException, file=None) -> str:
    """Print ``rank R: <Error>: <message>`` (after the traceback for unexpected errors) and return that line."""
    file = file or sys.stderr
    from .comm import MPIUnavailable  # noqa: PLC0415
    from .parallel import ConfigurationMismatch  # noqa: PLC0415

    if not isinstance(exc, _PLAIN + (MPIUnavailable, ConfigurationMismatch)):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)
    line = f"rank {comm.rank}: {type(exc).__name__}: {exc}"
    print(f"{line}\nrank {comm.rank}: aborting all {comm.size} ranks", file=file, flush=True)
    return line


@contextlib.contextmanager
def abort_on_error(comm):
    """Run the ``with`` body; if it raises on a rank of a multi-process job, report and abort the job.

    ``SystemExit`` with status 0 passes through; any other exit status counts as an error.
    """
    try:
        yield
    except SystemExit as exc:
        if exc.code in (0, None) or comm.size == 1:
            raise
        report(comm, exc)
        comm.abort(exc.code if isinstance(exc.code, int) else 1)
    except BaseException as exc:
        if comm.size == 1:
            raise
        report(comm, exc)
        comm.abort(1)


def install_excepthook(comm):
    """Make an uncaught exception on any rank abort the whole job (``sys.excepthook``).

    Returns the previous hook. In a world of one process it changes nothing.
    """
    previous = sys.excepthook
    if comm.size == 1:
        return previous

    def hook(kind, exc, tb):
        report(comm, exc.with_traceback(tb))
        comm.abort(1)

    sys.excepthook = hook
    return previous
