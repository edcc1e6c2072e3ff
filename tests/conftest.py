"""Shared test setup: math libraries run single-threaded, and no test leaks global state.

The backend choice, the default dtype, the kernel choice and the thread count are glassnet's only
global state (glassnet.backend, glassnet.kernels); every test gets them back as it found them, so a
test that switches to float64 or to the NumPy kernels cannot change what the next one sees.
"""
import os
import platform

import numpy as np
import pytest
from hypothesis import settings

from glassnet import backend, kernels

pytest_plugins = ["tests.strict_skips"]

settings.register_profile("ci", derandomize=True, print_blob=True)
"""CI's hypothesis profile, loaded when the environment has ``CI`` set (as .ci/run does) or by
``pytest --hypothesis-profile=ci``: the same examples on every run, so a failure found once is found
again; locally the default profile keeps exploring."""
if os.environ.get("CI"):
    settings.load_profile("ci")


def _single_threaded():
    """The tests compare tiny arrays: with several threads, start-up and barriers dominate (and on a
    busy machine multiply the suite's time), so PyTorch and glassnet's compiled kernels get one thread
    (tests that exercise the threads set their own count with ``kernels.using(threads=...)``)."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    kernels.set_num_threads(1)


_single_threaded()


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Put the backend name, the default dtype, the kernel choice and the thread count back after each test."""
    saved = backend.name(), backend.get_default_dtype()
    with kernels.using(kernels.current(), threads=kernels.get_num_threads()):
        yield
    backend.use(saved[0])
    backend.set_default_dtype(saved[1])


@pytest.fixture
def float64():
    """Build parameters in float64 for the duration of one test (restored afterwards)."""
    with backend.default_dtype(np.float64):
        yield np.float64


@pytest.fixture
def compiled_kernels(monkeypatch):
    """Run a test on the compiled kernels with two threads (work split between the caller and the
    pool), parallel element-wise kernels even on tiny arrays and tiny conv tiles (images split into
    row bands), so small cases reach every compiled code path."""
    from glassnet.functional._numba import conv, threads

    monkeypatch.setattr(threads, "PARALLEL_MIN", 0)
    monkeypatch.setattr(conv, "TILE_BYTES", 512)
    with kernels.using("numba", threads=2):
        yield


@pytest.fixture
def error_model():
    """A small CNN whose layers the bad-input tests address by position (their messages name '0'..'6')."""
    from glassnet import nn

    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4, 2), nn.BatchNorm1d(2),
    )


def pytest_terminal_summary(terminalreporter):
    """The CPU and numpy's BLAS the run had (some failures depend on them), and how many BLAS products
    set the invalid flag inside tests.torch_parity.strict_floats (which counts these instead of failing)."""
    from tests.torch_parity import spurious_blas_flags

    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    terminalreporter.write_line(f"machine: {_cpu_model()}; numpy's BLAS {blas.get('name')} {blas.get('version')}")
    if spurious_blas_flags():
        terminalreporter.write_line(
            f"strict_floats: {spurious_blas_flags()} BLAS product(s) set the invalid flag "
            "(counted, not failed: their results are compared with PyTorch)")


def _cpu_model():
    """'<model name>, family F model M (<LLVM's name for it>)' from /proc/cpuinfo and llvmlite, or what is known."""
    from llvmlite import binding

    fields = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown CPU"
    family = f", family {fields['cpu family']} model {fields['model']}" if "cpu family" in fields else ""
    return f"{name}{family} ({binding.get_host_cpu_name()})"
