"""MPI worker: train the cases of cases.py data-parallel; rank 0 saves the final weights and losses.

    mpirun -n 2 python tests/mpi_workers/equivalence.py OUT_DIR CASE [CASE ...]

Writes OUT_DIR/<case>.npz (the state_dict, "__losses__" the per-step global losses and
"__spread__" the largest difference between any rank's weights and rank 0's).
"""
import sys
from pathlib import Path

import numpy as np

import cases
from glassnet.distributed import abort_on_error, init


def main(out, names):
    comm = init(require_mpi=True)
    with abort_on_error(comm):
        for name in names:
            model, solver = cases.train(name, comm)
            mine = cases.state(model)
            ref = comm.bcast(mine if comm.is_main else None)
            spread = max(float(np.max(np.abs(mine[k] - ref[k]))) for k in ref)
            spread = max(comm.allgather(spread))
            if comm.is_main:
                np.savez(Path(out) / f"{name}.npz", __losses__=np.array(solver.step_losses),
                         __spread__=np.array(spread), __ranks__=np.array(comm.size), **mine)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
