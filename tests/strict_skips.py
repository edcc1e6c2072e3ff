"""A pytest plugin (loaded by tests/conftest.py): the run fails on any skip not in EXPECTED_SKIPS."""
import pytest

EXPECTED_SKIPS = (
    "could not import 'cupy'",  # no GPU here: the CuPy backend checks need one
    "no CUDA device",
    "CuPy with a usable GPU is present",  # on a GPU machine: checks of the message of a machine without one
    "CuPy is installed here",
    "SCIPY_ARRAY_API is not set",  # scikit-learn's estimator checks: optional array-API inputs
    "pandas is not installed",  # scikit-learn's estimator checks: optional pandas inputs
)
"""Skip reasons that are expected (a machine without a GPU; scikit-learn's optional checks). Any other
skip - numba, mpi4py, mpirun, torch or onnxruntime failing to import - fails the run, so the
compiled-kernel parity loops and the multi-rank tests cannot silently drop out."""

_unexpected_skips = []


def _skip_reason(report):
    longrepr = report.longrepr
    return str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)


def _note_skip(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if not any(expected in reason for expected in EXPECTED_SKIPS):
            _unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report):
    _note_skip(report)


def pytest_collectreport(report):
    _note_skip(report)


def pytest_terminal_summary(terminalreporter):
    if _unexpected_skips:
        terminalreporter.section("unexpected skips (not in EXPECTED_SKIPS of tests/strict_skips.py)", red=True)
        for line in _unexpected_skips:
            terminalreporter.line(line)


def pytest_sessionfinish(session, exitstatus):
    if _unexpected_skips and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
