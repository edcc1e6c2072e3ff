#!/usr/bin/env bash
# Open MPI (Debian packages) and mpi4py built against it, for glassnet's multi-rank tests and
# `mpirun -n K glassnet train --distributed`. Safe to run again: installed pieces are kept.
set -euo pipefail

if ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then
    bash "$(dirname "$0")/apt_install.sh" openmpi-bin libopenmpi-dev
fi
mpirun --version | head -n 1

# mpi4py compiles against the MPI found through mpicc (the `mpi` extra of glassnet pins the version).
if ! python -c "import mpi4py" >/dev/null 2>&1; then
    python -m pip install -q "mpi4py>=3.1"
fi
python -c "from mpi4py import MPI; print('mpi4py', MPI.Get_library_version().splitlines()[0])"
