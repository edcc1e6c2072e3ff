"""Data-parallel training under a real ``mpirun``: K ranks train to the same weights as one process,
a failing rank ends the whole job quickly and names itself, and the CLI writes only on rank 0.

Each test launches ``mpirun -n K --oversubscribe --allow-run-as-root python ...`` as a subprocess with
a timeout. They are skipped (with the reason) only when mpirun or mpi4py is missing; CI installs both
(.ci/install_mpi.sh).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glassnet import io
from tests.mpi_workers import cases

WORKERS = Path(__file__).parent / "mpi_workers"
MPIRUN = shutil.which("mpirun")

pytestmark = pytest.mark.skipif(
    MPIRUN is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpirun and mpi4py (Debian: apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py)",
)

# float64 and float32 tolerances on ||w_K ranks - w_1 process|| / ||w_1 process||
TOLERANCE = {"float64": 1e-9, "float32": 1e-5}


def mpirun(ranks, *argv, timeout=180, cwd=None):
    """Run ``argv`` on ``ranks`` ranks; return (CompletedProcess with stdout+stderr merged, seconds)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OMPI_MCA_mpi_yield_when_idle": "1",  # the machine may have fewer free cores than ranks
           "PYTHONPATH": os.pathsep.join([str(WORKERS), os.environ.get("PYTHONPATH", "")])}
    cmd = [MPIRUN, "-n", str(ranks), "--oversubscribe", "--allow-run-as-root", *argv]
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          timeout=timeout, cwd=cwd)
    return proc, time.perf_counter() - start


# ------------------------------------------------------------------ same weights as one process
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every case trained on 2 ranks, and two on 3 ranks (13-example batches: shards of 5, 4, 4)."""
    results = {}
    for ranks, names in [(2, list(cases.CASES)), (3, ["mlp_float64", "cnn_bn_sync_float64"])]:
        out = tmp_path_factory.mktemp(f"ranks{ranks}")
        proc, _ = mpirun(ranks, sys.executable, str(WORKERS / "equivalence.py"), str(out), *names)
        assert proc.returncode == 0, proc.stdout
        for name in names:
            results[ranks, name] = dict(np.load(out / f"{name}.npz"))
    return results


def _compare(result, name):
    result = dict(result)
    losses, spread, _ = result.pop("__losses__"), result.pop("__spread__"), result.pop("__ranks__")
    model, solver = cases.train(name)
    tol = TOLERANCE[cases.CASES[name]["dtype"]]
    assert spread == 0.0, "the ranks' weights drifted apart"
    assert cases.relative_difference(result, cases.state(model)) < tol
    np.testing.assert_allclose(losses, solver.step_losses, rtol=tol)


@pytest.mark.parametrize("name", ["mlp_float64", "mlp_float32", "cnn_float64", "cnn_float32_augment"])
def test_two_ranks_train_to_the_weights_of_one_process(trained, name):
    _compare(trained[2, name], name)


@pytest.mark.parametrize("name", ["cnn_bn_sync_float64", "cnn_bn_sync_float32"])
def test_two_ranks_with_synchronised_batchnorm_train_to_the_weights_of_one_process(trained, name):
    _compare(trained[2, name], name)


@pytest.mark.parametrize("name", ["mlp_float64", "cnn_bn_sync_float64"])
def test_three_ranks_with_unequal_shards_train_to_the_weights_of_one_process(trained, name):
    _compare(trained[3, name], name)


def test_two_ranks_with_per_rank_batchnorm_do_not_match_one_process(trained):
    """The control: per-rank statistics are a different model, so the check above can fail."""
    result = {k: v for k, v in trained[2, "cnn_bn_local_float64"].items() if not k.startswith("__")}
    model, _ = cases.train("cnn_bn_local_float64")
    assert cases.relative_difference(result, cases.state(model)) > 1e-3


# ------------------------------------------------------------------ failures end the job
@pytest.mark.parametrize("mode", ["raise", "uncaught", "kill"])
def test_a_failing_rank_ends_the_whole_job_quickly_naming_the_rank(mode):
    proc, seconds = mpirun(2, sys.executable, str(WORKERS / "failure.py"), mode, timeout=60)
    assert proc.returncode != 0
    assert seconds < 20, f"took {seconds:.1f} s"
    if mode == "kill":
        assert "rank 1" in proc.stdout and "signal 9" in proc.stdout, proc.stdout
    else:
        assert "rank 1: ValueError: deliberate failure in the loss" in proc.stdout, proc.stdout


def test_ranks_with_different_models_are_refused_at_start():
    proc, seconds = mpirun(2, sys.executable, str(WORKERS / "failure.py"), "mismatch", timeout=60)
    assert proc.returncode != 0 and seconds < 20
    assert "ConfigurationMismatch" in proc.stdout and "rank 1 has different parameters" in proc.stdout


# ------------------------------------------------------------------ the command line
def test_cli_distributed_run_and_resume_match_one_process_and_only_rank_0_writes(tmp_path):
    from glassnet.train.run import train_run

    opts = {"model": "two_layer_net", "limit": 300, "batch_size": 40, "augment": False, "schedule": "none",
            "optimizer": "sgd", "lr": 0.05}
    argv = ["--model", "two_layer_net", "--limit", "300", "--batch-size", "40", "--no-augment",
            "--schedule", "none", "--optimizer", "sgd", "--lr", "0.05", "--no-progress"]
    run_dir = tmp_path / "dist"
    glassnet = [sys.executable, "-m", "glassnet.cli", "train", "--distributed"]
    first, _ = mpirun(2, *glassnet, *argv, "--epochs", "1", "--out", str(run_dir), cwd=tmp_path)
    assert first.returncode == 0, first.stdout
    resumed, _ = mpirun(2, *glassnet, "--resume", str(run_dir), "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout
    assert resumed.stdout.count("test accuracy") == 1  # rank 0 speaks for the job
    assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 1 + 2
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 2

    single = train_run({**opts, "epochs": 2}, out_dir=tmp_path / "single", progress=False)
    a = io.load(run_dir / "model.safetensors").state_dict()
    b = io.load(tmp_path / "single" / "model.safetensors").state_dict()
    assert cases.relative_difference(a, b) < TOLERANCE["float32"]
    assert json.loads((run_dir / "summary.json").read_text())["test_accuracy"] == pytest.approx(
        single["test_accuracy"], abs=0.01)
