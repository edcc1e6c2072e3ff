"""What an MPI launcher (Open MPI's ``mpirun``; MPICH / Intel MPI's Hydra) tells the processes it
starts, read from the environment without initialising MPI: how many there are in all, and how
many on this machine. Light on purpose: the kernels' default thread count reads it too."""
from __future__ import annotations

import os

WORLD_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
"""The world size, in every process a launcher starts."""

LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")
"""How many of them run on this machine."""


def _first_count(names):
    """The first of these environment variables that holds a whole number, as an int; else None."""
    for var in names:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return None


def launched_size() -> int:
    """How many processes the MPI launcher says it started (1 when not started by a launcher).

    Lets a program notice it was started by ``mpirun -n K`` although it was not asked to train
    distributed.
    """
    count = _first_count(WORLD_SIZE_VARS)
    return 1 if count is None else count


def launched_here() -> int:
    """How many processes the MPI launcher started on this machine (1 when not started by one)."""
    return _first_count(LOCAL_SIZE_VARS) or 1
