"""Shared test setup: the helper modules in tests/ are importable, math libraries run single-threaded,
and no test leaks backend state.

The backend choice, the default dtype, the kernel choice and the thread count are glassnet's only
global state (glassnet.backend, glassnet.kernels); every test gets them back as it found them, so a
test that switches to float64 or to the NumPy kernels cannot change what the next one sees.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from glassnet import backend, kernels  # noqa: E402


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
