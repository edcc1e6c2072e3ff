"""Tiny training problems shared by the MPI worker scripts and the tests that check them.

``train(case, comm=None)`` trains one case with the Solver: in one process with the plain DataLoader
when ``comm`` is None, else data-parallel (ShardedLoader + DataParallel, synchronised batch norm if
the case asks for it). Everything (data, initial weights, batch order, augmentation) comes from fixed
seeds, so the two must end with the same weights.
"""
from __future__ import annotations

import numpy as np

from glassnet import backend, nn
from glassnet.data import ArrayDataset, DataLoader, RandomCrop
from glassnet.optim import SGD, regularizer_from
from glassnet.train import Solver

CASES = {
    # name: dtype, model, global batch size, examples, epochs, sync_bn, augment, L2
    "mlp_float64": dict(dtype="float64", model="mlp", batch=13, n=50, epochs=2, l2=1e-3),
    "mlp_float32": dict(dtype="float32", model="mlp", batch=12, n=48, epochs=2, l2=1e-3),
    "cnn_float64": dict(dtype="float64", model="cnn", batch=12, n=40, epochs=2),
    "cnn_float32_augment": dict(dtype="float32", model="cnn", batch=10, n=40, epochs=2, augment=True),
    "cnn_bn_sync_float64": dict(dtype="float64", model="cnn_bn", batch=13, n=39, epochs=2, sync_bn=True),
    "cnn_bn_sync_float32": dict(dtype="float32", model="cnn_bn", batch=12, n=36, epochs=2, sync_bn=True),
    "cnn_bn_local_float64": dict(dtype="float64", model="cnn_bn", batch=12, n=36, epochs=1, sync_bn=False),
}


def build_model(kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(36, 16, init="he", rng=rng), nn.ReLU(),
                             nn.Linear(16, 3, rng=rng))
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, init="he", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(36, 3, rng=rng))
    if kind == "cnn_bn":
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False, init="he", rng=rng), nn.BatchNorm2d(4),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 8, rng=rng),
                             nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3, rng=rng))
    raise ValueError(kind)


def make_data(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5, 1.0, size=(n, 1, 6, 6)).astype(dtype)
    y = rng.integers(0, 3, size=n)
    x[np.arange(n), 0, y, y] += 2.0  # something to learn
    return ArrayDataset(x, y)


def train(name, comm=None):
    """Train case ``name``; return (model, solver)."""
    spec = {"sync_bn": False, "augment": False, "l2": 0.0, **CASES[name]}
    with backend.default_dtype(np.dtype(spec["dtype"])):
        data = make_data(spec["n"], spec["dtype"])
        model = build_model(spec["model"])
        transform = RandomCrop(6, padding=1) if spec["augment"] else None
        parallel = None
        if comm is None:
            loader = DataLoader(data, spec["batch"], seed=3, transform=transform)
        else:
            from glassnet.distributed import DataParallel, ShardedLoader, sync_batchnorm

            loader = ShardedLoader(data, spec["batch"], comm=comm, seed=3, transform=transform)
            if spec["sync_bn"]:
                sync_batchnorm(model, comm)
            parallel = DataParallel(model, comm, config={"case": name})
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        solver = Solver(model, loader, optimizer, epochs=spec["epochs"], seed=0, progress=False,
                        train_eval_samples=0, regularizer=regularizer_from(l2=spec["l2"]), parallel=parallel)
        solver.fit()
    return model, solver


def state(model):
    return {k: np.array(backend.to_numpy(v), copy=True) for k, v in model.state_dict().items()}


def relative_difference(a: dict, b: dict) -> float:
    """||a - b|| / ||b|| over all arrays of the two state dicts together (arrays matched by name)."""
    keys = sorted(b)
    ref = np.concatenate([np.ravel(b[k]).astype(np.float64) for k in keys])
    got = np.concatenate([np.ravel(a[k]).astype(np.float64) for k in keys])
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
