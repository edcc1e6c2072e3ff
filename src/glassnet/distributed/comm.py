"""Who am I, how many are we: the MPI world communicator, or a one-process stand-in.

:func:`init` returns a :class:`Communicator`. Under ``mpirun -n K`` (with mpi4py installed) it wraps
``MPI.COMM_WORLD``: ``rank`` in ``0..K-1``, ``size == K``. Without MPI it returns
:class:`LocalComm`, a world of one process whose collectives are identities, so the same training
code runs on a laptop with no MPI at all.

Only the few collectives data-parallel training needs are exposed, each with the same meaning on
both classes:

* ``allreduce_(a)``: ``a`` becomes the element-wise sum of every rank's ``a`` (in place, one call);
* ``bcast_(a)``: rank 0's array is copied into every rank's ``a`` (in place);
* ``bcast(obj)`` / ``allgather(obj)``: small picklable Python objects (configuration, checkpoints);
* ``abort(code)``: end every process of the job now.

Arrays may live on the GPU (CuPy): they are staged through host memory. The time spent inside
collectives is summed in ``seconds`` (and counted in ``calls``), so a benchmark can report the share
of a step spent communicating.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from .. import backend
from .._launcher import launched_size
from ..errors import SetupError

INSTALL_HINT = (
    "install mpi4py with `pip install glassnet[mpi]` (or `pip install mpi4py`); it needs an MPI "
    "library and its compiler wrappers, on Debian/Ubuntu `apt-get install openmpi-bin libopenmpi-dev`"
)


class MPIUnavailable(SetupError):
    """Distributed training was asked for, but mpi4py (or the MPI library under it) cannot be loaded."""


class Communicator:
    """The interface both communicators share (see the module docstring)."""

    rank: int = 0
    size: int = 1

    def __init__(self):
        self.seconds = 0.0
        self.calls = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that prints, writes files and reads checkpoints."""
        return self.rank == 0

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class LocalComm(Communicator):
    """A world of one process: rank 0 of 1; every collective leaves its argument as it is."""

    rank, size = 0, 1

    def allreduce_(self, a):
        return a

    def bcast_(self, a):
        return a

    def bcast(self, obj):
        return obj

    def allgather(self, obj):
        return [obj]

    def barrier(self):
        pass

    def abort(self, code: int = 1):
        sys.stderr.flush()
        os._exit(code)


class MPIComm(Communicator):
    """``MPI.COMM_WORLD`` (or another mpi4py communicator) behind the :class:`Communicator` interface."""

    def __init__(self, comm=None):
        super().__init__()
        from mpi4py import MPI  # noqa: PLC0415 - importing it initialises MPI

        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def _timed(self, start):
        self.seconds += time.perf_counter() - start
        self.calls += 1

    def allreduce_(self, a):
        """Sum ``a`` over all ranks, in place (one ``MPI_Allreduce``); returns ``a``."""
        start = time.perf_counter()
        if isinstance(a, np.ndarray) and a.flags.c_contiguous:
            self.comm.Allreduce(self.MPI.IN_PLACE, a, op=self.MPI.SUM)
        else:  # a GPU or non-contiguous array: reduce a contiguous host copy, then copy back
            host = np.ascontiguousarray(backend.to_numpy(a))
            self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
            a[...] = backend.array_module(a).asarray(host)
        self._timed(start)
        return a

    def bcast_(self, a):
        """Overwrite ``a`` with rank 0's ``a``, in place (one ``MPI_Bcast``); returns ``a``."""
        start = time.perf_counter()
        if isinstance(a, np.ndarray) and a.flags.c_contiguous:
            self.comm.Bcast(a, root=0)
        else:
            host = np.ascontiguousarray(backend.to_numpy(a))
            self.comm.Bcast(host, root=0)
            a[...] = backend.array_module(a).asarray(host)
        self._timed(start)
        return a

    def bcast(self, obj):
        """Rank 0's ``obj`` on every rank (pickled; for small objects between our own processes)."""
        start = time.perf_counter()
        obj = self.comm.bcast(obj, root=0)
        self._timed(start)
        return obj

    def allgather(self, obj):
        """The list of every rank's ``obj``, indexed by rank."""
        start = time.perf_counter()
        out = self.comm.allgather(obj)
        self._timed(start)
        return out

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code: int = 1):
        """End the whole job: ``MPI_Abort`` makes the launcher kill every rank."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


_WORLD: Communicator | None = None


def init(require_mpi: bool = False) -> Communicator:
    """The world communicator: MPI's when mpi4py is importable, else a :class:`LocalComm`.

    ``require_mpi=True`` (what ``glassnet train --distributed`` uses) raises :class:`MPIUnavailable`
    with installation instructions instead of falling back. The communicator is created once per
    process (MPI can be initialised only once) and returned again by later calls.
    """
    global _WORLD  # noqa: PLW0603 - MPI is initialised once per process
    if isinstance(_WORLD, MPIComm) or (_WORLD is not None and not require_mpi):
        return _WORLD
    try:
        _WORLD = MPIComm()
    except ImportError as exc:
        if require_mpi:
            raise MPIUnavailable(f"distributed training needs MPI for Python, which cannot be imported "
                                 f"({exc}): {INSTALL_HINT}") from exc
        if launched_size() > 1:
            raise MPIUnavailable(f"started by an MPI launcher with {launched_size()} processes, but mpi4py "
                                 f"cannot be imported ({exc}): {INSTALL_HINT}") from exc
        _WORLD = LocalComm()
    return _WORLD
