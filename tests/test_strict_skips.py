"""The suite cannot quietly weaken: a skip that is not in EXPECTED_SKIPS fails the run."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(tmp_path, body):
    (tmp_path / "test_case.py").write_text(body)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.strict_skips", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_case.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("body", [
    "import pytest\npytest.importorskip('a_module_that_is_not_installed')\ndef test_x():\n    pass\n",
    "import pytest\ndef test_x():\n    pytest.skip('mpirun is missing')\n",
])
def test_an_unexpected_skip_fails_the_run_and_is_listed(tmp_path, body):
    proc = run_pytest(tmp_path, body)
    assert proc.returncode == 1, proc.stdout
    assert "unexpected skips" in proc.stdout


def test_an_expected_skip_passes(tmp_path):
    proc = run_pytest(tmp_path, "import pytest\ndef test_x():\n    pytest.skip(\"could not import 'cupy': no module\")\n")
    assert proc.returncode == 0, proc.stdout
