"""The ``--distributed`` entry point of the command line: MPI, the abort-on-error guard, then the command."""
from __future__ import annotations

from .comm import init
from .failure import abort_on_error, install_excepthook


def run_distributed(args, body) -> int:
    """Run ``body(args, comm)`` on every rank; an exception on any rank aborts the whole job.

    Raises :class:`~glassnet.distributed.MPIUnavailable` (with what to install) before anything
    else when mpi4py cannot be imported.
    """
    comm = init(require_mpi=True)
    install_excepthook(comm)
    with abort_on_error(comm):
        return body(args, comm)
