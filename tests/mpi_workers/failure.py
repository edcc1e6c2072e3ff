"""MPI worker: rank 1 fails in one of several ways while the other ranks train on.

    mpirun -n 2 python tests/mpi_workers/failure.py MODE

MODE: ``raise`` (a ValueError inside abort_on_error, at rank 1's 3rd step), ``uncaught`` (the same
error outside any guard, caught only by the installed excepthook), ``kill`` (rank 1 SIGKILLs itself at
its 3rd step), ``mismatch`` (rank 1 builds a different model: the start-up check must refuse).
Without the failure handling the other ranks would wait in their next Allreduce forever.
"""
import os
import signal
import sys

import cases
from glassnet.distributed import DataParallel, ShardedLoader, abort_on_error, init, install_excepthook
from glassnet.nn import CrossEntropyLoss
from glassnet.optim import SGD
from glassnet.train import Solver


class FailingLoss(CrossEntropyLoss):
    def __init__(self, mode, rank):
        super().__init__()
        self.mode, self.rank, self.calls = mode, rank, 0

    def __call__(self, scores, y):
        self.calls += 1
        if self.rank == 1 and self.calls == 3:
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError("deliberate failure in the loss")
        return super().__call__(scores, y)


def train(mode, comm):
    model = cases.build_model("cnn" if mode == "mismatch" and comm.rank == 1 else "mlp")
    loader = ShardedLoader(cases.make_data(40, "float32"), 8, comm=comm, seed=3)
    parallel = DataParallel(model, comm, config={"mode": mode})
    solver = Solver(model, loader, SGD(model.parameters(), lr=0.01), FailingLoss(mode, comm.rank),
                    epochs=100000, progress=False, train_eval_samples=0, parallel=parallel)
    solver.fit()


def main(mode):
    comm = init(require_mpi=True)
    install_excepthook(comm)
    if mode == "uncaught":
        train(mode, comm)
    else:
        with abort_on_error(comm):
            train(mode, comm)


if __name__ == "__main__":
    main(sys.argv[1])
