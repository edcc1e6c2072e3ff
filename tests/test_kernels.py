"""glassnet.kernels and the compiled twins as a whole: which implementation runs (the switch and its
fallbacks), the twins mirror the reference (names, signatures, cache tags), thread counts change no
result, and a float32 network stays float32 and matches the NumPy kernels.

The per-kernel parity cases of the compiled twins live with their kernels (test_conv.py, test_pool.py,
test_activation.py, test_norm.py). numba is a test dependency: without it this file fails, it is never
skipped."""
import importlib
import inspect

import numpy as np
import pytest

import glassnet.functional as F
from glassnet import kernels, nn
from glassnet._launcher import LOCAL_SIZE_VARS
from glassnet.functional import _numba
from glassnet.functional._numba import activation as compiled_activation
from glassnet.functional._numba import conv as compiled_conv
from glassnet.functional._numba import norm as compiled_norm
from glassnet.functional._numba import pool as compiled_pool
from tests.torch_parity import assert_close, is_compiled, randn


# ------------------------------------------------------------------ float32 end to end
@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_kernels_keep_float32_in_every_output_gradient_and_cache():
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w, b = r.standard_normal((4, 3, 3, 3)).astype(np.float32), r.standard_normal(4).astype(np.float32)
    out, cache = F.conv_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32 and cache[2].dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.conv_backward(np.ones_like(out), cache))
    out, cache = F.max_pool_forward(x, 2, 2)
    assert out.dtype == np.float32 and F.max_pool_backward(np.ones_like(out), cache).dtype == np.float32
    out, cache = F.relu_forward(x)
    assert out.dtype == np.float32 and F.relu_backward(np.ones_like(out), cache).dtype == np.float32
    running = {"mean": np.zeros(3, np.float32), "var": np.ones(3, np.float32)}
    g, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    for train in (True, False):
        out, cache = F.batchnorm_forward(x, g, beta, running, train)
        assert out.dtype == np.float32 and running["mean"].dtype == running["var"].dtype == np.float32
        assert all(a.dtype == np.float32 for a in F.batchnorm_backward(np.ones_like(out), cache))


@pytest.mark.usefixtures("compiled_kernels")
def test_a_float32_cnn_training_step_under_compiled_kernels_stays_float32_and_matches_numpy_kernels():
    def step(choice):
        with kernels.using(choice):
            rng = np.random.default_rng(0)
            model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.MaxPool2d(2),
                                  nn.Conv2d(4, 6, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(6 * 2 * 2, 5, rng=rng))
            x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
            out = model(x)
            dx = model.backward(np.ones_like(out))
            return out, dx, {k: p.grad for k, p in model.named_parameters()}

    out, dx, grads = step("numba")
    out_ref, dx_ref, grads_ref = step("numpy")
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert_close(out, out_ref, 1e-5, "output")
    assert_close(dx, dx_ref, 1e-4, "input gradient")
    for k in grads:
        assert_close(grads[k], grads_ref[k], 1e-4, f"gradient of {k}")


# ------------------------------------------------------------------ the switch
@pytest.mark.usefixtures("compiled_kernels")
def test_numpy_choice_runs_the_reference_kernels():
    x = randn(0, 2, 3, 4, 4)
    with kernels.using("numpy"):
        _, cache = F.conv_forward(x, randn(1, 2, 3, 3, 3), randn(2, 2), 1, 1)
        assert not is_compiled(cache)
        assert not is_compiled(F.max_pool_forward(x, 2, 2)[1])


@pytest.mark.usefixtures("compiled_kernels")
def test_only_numpy_float32_or_float64_arrays_of_one_dtype_take_the_compiled_path():
    a32, a64 = np.zeros(3, np.float32), np.zeros(3)
    assert _numba.twin("conv", a32) is compiled_conv and _numba.twin("norm", a64, a64) is compiled_norm
    assert _numba.twin("pool", a32) is compiled_pool and _numba.twin("activation", a64) is compiled_activation
    assert _numba.twin("conv", a32, a64) is None  # mixed dtypes: the reference decides what to do
    assert _numba.twin("conv", np.zeros(3, np.float16)) is None
    assert _numba.twin("conv", np.zeros(3, np.int64)) is None

    class NotNumpy(np.ndarray):  # stands in for an array type the compiled kernels cannot take
        pass

    assert _numba.twin("conv", np.zeros(3).view(NotNumpy)) is None


@pytest.mark.usefixtures("compiled_kernels")
def test_unknown_kernel_choice_is_rejected():
    with pytest.raises(ValueError, match="unknown kernels"):
        kernels.use("fortran")


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("variable, value, message", [
    ("GLASSNET_KERNELS", "bogus", "GLASSNET_KERNELS='bogus': expected one of auto, numpy, numba"),
    ("GLASSNET_NUM_THREADS", "abc", "GLASSNET_NUM_THREADS='abc': expected a whole number of threads >= 1"),
    ("GLASSNET_NUM_THREADS", "0", "GLASSNET_NUM_THREADS='0': expected a whole number of threads >= 1"),
    ("GLASSNET_WAIT_POLICY", "lazy", "GLASSNET_WAIT_POLICY='lazy': expected active or passive"),
])
def test_a_bad_kernel_environment_variable_is_one_line_naming_it(tmp_path, variable, value, message):
    import os
    import subprocess
    import sys

    env = {**os.environ, "GLASSNET_NUM_THREADS": "2", variable: value}  # 2 threads: the pool's settings are read
    glassnet = [sys.executable, "-c", "import sys; from glassnet.cli import main; sys.exit(main(sys.argv[1:]))"]
    help_run = subprocess.run([*glassnet, "--help"], env=env, capture_output=True, text=True)
    assert help_run.returncode == 0, help_run.stderr  # importing glassnet does not read the kernels' settings
    run = subprocess.run([*glassnet, "train", "--epochs", "1", "--limit", "100",
                          "--no-progress", "--out", str(tmp_path / "r")], env=env, capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"glassnet train: error: {message}"


def test_compiled_batchnorm_refuses_training_on_one_value_per_channel_like_the_reference():
    running = {"mean": np.zeros(2), "var": np.ones(2)}
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batchnorm_forward(randn(0, 1, 2, 1, 1), np.ones(2), np.zeros(2), running, True)
    np.testing.assert_array_equal(running["mean"], 0.0)  # nothing was updated


# ------------------------------------------------------------------ the twins mirror the reference
TWINS = [("conv", F.conv_forward, F.conv_backward), ("pool", F.max_pool_forward, F.max_pool_backward),
         ("activation", F.relu_forward, F.relu_backward), ("norm", F.batchnorm_forward, F.batchnorm_backward)]


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("family, forward, backward", TWINS, ids=[t[0] for t in TWINS])
def test_each_compiled_twin_has_the_reference_kernels_name_and_signature_one_directory_away(family, forward, backward):
    twin = importlib.import_module(f"glassnet.functional._numba.{family}")
    assert forward.__module__ == f"glassnet.functional.{family}"
    for reference in (forward, backward):
        compiled = getattr(twin, reference.__name__)
        assert inspect.signature(compiled) == inspect.signature(reference), reference.__name__


@pytest.mark.usefixtures("compiled_kernels")
def test_compiled_backward_refuses_the_cache_of_another_kernel():
    x = randn(0, 2, 3, 4, 4)
    _, pool_cache = F.max_pool_forward(x, 2, 2)
    with pytest.raises(ValueError, match="conv_backward: got the cache of max_pool_forward"):
        F.conv_backward(np.ones((2, 4, 4, 4)), pool_cache)


@pytest.mark.usefixtures("compiled_kernels")
@pytest.mark.parametrize("c, f, groups, dilation", [(3, 5, 1, 1), (6, 6, 6, 1), (6, 6, 3, 2), (6, 6, 1, 2)],
                         ids=["plain", "depthwise", "grouped_dilated", "dilated"])
def test_compiled_conv_gradients_are_bitwise_the_same_for_one_two_and_three_threads(c, f, groups, dilation):
    """The weight gradient is summed over parts of the tiles (or, depthwise, over the images) fixed by
    the shapes, in one order."""
    x, w, b = randn(0, 7, c, 9, 9), randn(1, f, c // groups, 3, 3), randn(2, f)
    results = []
    for n in (1, 2, 3):
        with kernels.using(threads=n):
            out, cache = F.conv_forward(x, w, b, 1, dilation, dilation, groups)
            results.append((out, *F.conv_backward(out, cache)))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.usefixtures("compiled_kernels")
def test_kernels_using_restores_the_choice_and_the_thread_count():
    before = kernels.current(), kernels.get_num_threads()
    with kernels.using("numpy", threads=3):
        assert (kernels.current(), kernels.get_num_threads()) == ("numpy", 3)
    assert (kernels.current(), kernels.get_num_threads()) == before


def test_nan_and_inf_upstream_gradients_reach_the_same_units_under_both_kernels():
    import torch

    x = np.array([[[[1.0, -2.0, 3.0, 0.5], [-1.0, 4.0, -0.5, 2.0], [0.0, -3.0, 1.5, 2.5], [5.0, -1.0, 0.25, -4.0]]]])
    dout = np.array([[[[np.nan, 1.0], [np.inf, -np.inf]]]])
    relu_dout = np.where(np.arange(16).reshape(x.shape) % 3 == 0, np.nan, 1.0)
    results = {}
    for choice in ("numpy", "numba"):
        with kernels.using(choice):
            r, relu_cache = F.relu_forward(x)
            p, pool_cache = F.max_pool_forward(x, 2, 2)
            results[choice] = F.relu_backward(relu_dout, relu_cache), F.max_pool_backward(dout, pool_cache)
    t = torch.tensor(x, requires_grad=True)
    torch.relu(t).backward(torch.tensor(relu_dout))
    torch_relu = t.grad.numpy().copy()
    t.grad = None
    torch.nn.functional.max_pool2d(t, 2, 2).backward(torch.tensor(dout))
    for relu_dx, pool_dx in results.values():
        np.testing.assert_array_equal(relu_dx, torch_relu)   # NaN where torch has NaN, and nowhere else
        np.testing.assert_array_equal(pool_dx, t.grad.numpy())


@pytest.mark.parametrize("variable, ranks, cores, expected", [
    (None, None, 4, 4),
    ("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 4, 2),  # Open MPI's mpirun -n 2 on this machine
    ("MPI_LOCALNRANKS", "4", 4, 1),  # MPICH / Intel MPI (Hydra)
    ("OMPI_COMM_WORLD_LOCAL_SIZE", "3", 2, 1),  # more ranks than cores: still one thread each
])
def test_default_threads_share_the_cores_between_the_ranks_an_mpi_launcher_started(monkeypatch, variable, ranks,
                                                                                   cores, expected):
    import os

    for name in ("GLASSNET_NUM_THREADS", *LOCAL_SIZE_VARS):
        monkeypatch.delenv(name, raising=False)
    if variable is not None:
        monkeypatch.setenv(variable, ranks)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert kernels._default_threads() == expected
    monkeypatch.setenv("GLASSNET_NUM_THREADS", "3")  # an explicit count wins
    assert kernels._default_threads() == 3
