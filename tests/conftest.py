"""Shared test setup: the helper modules in tests/ are importable, math libraries run single-threaded,
and no test leaks backend state.

The backend choice and the default dtype are glassnet's only global state; every test gets them
back as it found them, so a test that switches to float64 cannot change what the next one sees.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from glassnet import backend  # noqa: E402


def _single_threaded():
    """The tests compare tiny arrays: with several threads, start-up and barriers dominate (and on a
    busy machine multiply the suite's time), so PyTorch and numba (when installed) get one thread."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:
        pass


_single_threaded()


@pytest.fixture(autouse=True)
def _restore_backend_state():
    """Put the backend name and default dtype back after each test."""
    saved = backend.name(), backend.get_default_dtype()
    yield
    backend.use(saved[0])
    backend.set_default_dtype(saved[1])


@pytest.fixture
def float64():
    """Build parameters in float64 for the duration of one test (restored afterwards)."""
    with backend.default_dtype(np.float64):
        yield np.float64
