"""The compiled kernels as a default install gets them: numba is a core dependency, compiles only the
kernels that run, keeps them in an on-disk cache a second process loads instead of compiling (also
when the package directory is read-only, as site-packages is for a non-root user) and recompiles a
kernel that calls an edited kernel of another file, and the NumPy reference takes over where numba
cannot be imported. Each check of an install runs in a fresh interpreter."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

try:  # Python >= 3.11
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10: pip's copy of the same parser
    from pip._vendor import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter with the environment changed by ``env`` (None: unset)."""
    environ = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=300, env=environ)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_numba_and_threadpoolctl_are_core_dependencies_not_an_extra():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    core = {d.split(">")[0].split(";")[0].strip() for d in project["dependencies"]}
    assert {"numba", "threadpoolctl"} <= core
    assert project["optional-dependencies"]["fast"] == []  # kept so `pip install .[fast]` still works


RELU_ONLY = """
    import numpy as np
    from numba.core.registry import CPUDispatcher
    from glassnet import kernels
    from glassnet.functional import relu_forward
    from glassnet.functional._numba import activation as K
    relu_forward(np.ones((4, 8), np.float32))
    dispatchers = {name: f for name, f in vars(K).items() if isinstance(f, CPUDispatcher)}
    print(sorted(name for name, f in dispatchers.items() if f.signatures))
    print(sum(K._relu.stats.cache_hits.values()))
    print(kernels.describe().split()[0])
    import sys
    print(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("glassnet.functional._numba.")))
"""


def test_compiled_kernels_compile_only_what_runs_and_a_second_process_loads_them_from_the_disk_cache(tmp_path):
    cache = tmp_path / "numba-cache"
    first = run_python(RELU_ONLY, NUMBA_CACHE_DIR=str(cache), GLASSNET_KERNELS="auto").split("\n")
    assert first[:3] == ["['_relu']", "0", "numba"]  # one kernel compiled, nothing loaded
    assert first[3] == "['activation', 'jit', 'threads']"  # the other families' twins are not even imported
    assert any(name.startswith("activation._relu") for _, _, files in os.walk(cache) for name in files)
    second = run_python(RELU_ONLY, NUMBA_CACHE_DIR=str(cache), GLASSNET_KERNELS="auto").split("\n")
    assert second[:3] == ["['_relu']", "1", "numba"]  # loaded from the cache, not compiled again


def test_compiled_kernels_cache_in_the_users_cache_home_when_the_package_directory_is_read_only(tmp_path):
    """numba's fallback locator (``~/.cache/numba``) is what a non-root user gets in site-packages;
    simulated here by making the in-tree location refuse writes, as a read-only directory does."""
    out = run_python(f"""
        import numpy as np
        from numba.core import caching
        def read_only(self):
            raise PermissionError("read-only file system")
        in_tree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator  # numba < 0.60: _
        in_tree.ensure_cache_path = read_only
        from glassnet.functional import relu_forward
        from glassnet.functional._numba import activation as K
        relu_forward(np.ones((4, 8), np.float32))
        print(type(K._relu._cache._impl.locator).__name__.lstrip("_"))
        print(K._relu._cache.cache_path.startswith({str(tmp_path)!r}))
    """, HOME=str(tmp_path), XDG_CACHE_HOME=None, NUMBA_CACHE_DIR=None)
    assert out.split() == ["UserWideCacheLocator", "True"]


def test_with_numba_jit_disabled_the_kernels_run_as_python_for_a_debugger():
    out = run_python("""
        import numpy as np
        from glassnet import kernels, nn
        from glassnet.functional._numba import activation
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
        print(model(np.ones((2, 1, 4, 4), np.float32)).shape)
        print(kernels.describe().split()[0], type(activation._relu).__name__)
        kernels.set_num_threads(2)  # the pool's helpers too: they sleep between jobs instead of spinning
        y = activation.relu_forward(np.ones(4_000_000, np.float32))[0]
        print(float(y.sum()))
    """, NUMBA_DISABLE_JIT="1", GLASSNET_KERNELS="auto")
    assert out.splitlines() == ["(2, 3)", "numba function", "4000000.0"]


def test_without_numba_the_numpy_reference_kernels_run():
    out = run_python("""
        import sys
        sys.modules["numba"] = None  # `import numba` now raises ImportError, as where it is not installed
        import numpy as np
        from glassnet import nn
        from glassnet import kernels
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
        print(model(np.ones((2, 1, 4, 4), np.float32)).shape)
        print(kernels.describe())
    """, GLASSNET_KERNELS="auto")
    assert out.splitlines() == ["(2, 3)", "numpy (reference; numba not installed)"]


def test_every_file_defining_kernels_compiles_them_through_jit_kernel_and_is_listed_in_its_sources():
    from glassnet.functional._numba import jit  # noqa: PLC0415

    files = {path.relative_to(jit.PACKAGE).as_posix(): path.read_text() for path in jit.PACKAGE.rglob("*.py")
             if path.name != "jit.py"}
    assert {name for name, text in files.items() if re.search(r"^@kernel\b", text, re.M)} == set(jit.SOURCES)
    assert [name for name, text in files.items() if re.search(r"njit\([^)]*cache", text)] == []  # no kernel bypasses it


@pytest.fixture
def fresh_checks(monkeypatch):
    """jit's per-process memory of what it checked, empty, as in a new process."""
    from glassnet.functional._numba import jit  # noqa: PLC0415

    monkeypatch.setattr(jit, "_checked", {})
    return jit


def test_kernel_caches_are_stale_where_no_fingerprint_or_another_one_is_recorded_for_their_module(tmp_path, fresh_checks,
                                                                                                 monkeypatch):
    jit = fresh_checks
    folder = str(tmp_path)
    assert jit.is_stale("glassnet.x", folder)  # nothing recorded in this cache folder yet
    assert json.loads((tmp_path / jit.STAMPS).read_text()) == {"glassnet.x": jit.fingerprint()}
    assert jit.is_stale("glassnet.x", folder)  # decided once per process
    monkeypatch.setattr(jit, "_checked", {})  # a new process
    assert not jit.is_stale("glassnet.x", folder)
    assert jit.is_stale("glassnet.y", folder)  # each module has its own record
    monkeypatch.setattr(jit, "_checked", {})
    monkeypatch.setattr(jit, "fingerprint", lambda: "an edited kernel file")
    assert jit.is_stale("glassnet.x", folder)
    assert json.loads((tmp_path / jit.STAMPS).read_text())["glassnet.x"] == "an edited kernel file"


def test_a_cache_folder_without_a_readable_and_writable_record_is_left_as_it_is(tmp_path, fresh_checks):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert not fresh_checks.is_stale("glassnet.x", str(not_a_folder))


CALLER = """
    import sys
    from pathlib import Path
    from glassnet.functional._numba import jit
    jit.PACKAGE, jit.SOURCES = Path({root!r}), ("callee.py", "caller.py")
    if not {check}:
        jit.is_stale = lambda module, cache_path: False  # numba's own check alone
    sys.path.insert(0, {root!r})
    import caller
    print(caller.f())
"""


def test_a_kernel_calling_an_edited_kernel_of_another_file_is_compiled_again(tmp_path):
    """numba checks a cached kernel against its own file only: the caller's code, which holds the
    callee's, would come from the cache unchanged. jit.kernel empties the caller's cache too."""
    (tmp_path / "callee.py").write_text("from glassnet.functional._numba.jit import kernel\n\n"
                                        "@kernel\ndef g():\n    return 1\n")
    (tmp_path / "caller.py").write_text("from callee import g\nfrom glassnet.functional._numba.jit import kernel\n\n"
                                        "@kernel\ndef f():\n    return g()\n")
    env = dict(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert run_python(CALLER.format(root=str(tmp_path), check=True), **env).split() == ["1"]
    (tmp_path / "callee.py").write_text((tmp_path / "callee.py").read_text().replace("return 1", "return 2"))
    assert run_python(CALLER.format(root=str(tmp_path), check=False), **env).split() == ["1"]  # stale
    assert run_python(CALLER.format(root=str(tmp_path), check=True), **env).split() == ["2"]
    assert run_python(CALLER.format(root=str(tmp_path), check=True), **env).split() == ["2"]


TARGET_FEATURES = """
    from numba.core import registry
    from glassnet.functional._numba import activation, jit  # defines kernels: numba's CPU target exists
    import llvmlite.binding as llvm
    print(jit.VECTORS_CHOSEN, llvm.get_host_cpu_features().get("avx512f", False))
    print(registry.cpu_target.target_context.codegen().magic_tuple()[2])  # the features compiled for
    print(jit.describe_target())
"""


def test_kernels_compile_for_full_width_vectors_on_avx512_unless_the_user_chose_the_target():
    chosen, avx512 = run_python(TARGET_FEATURES, NUMBA_CPU_FEATURES=None, NUMBA_CPU_NAME=None,
                                GLASSNET_VECTOR_PREFERENCE=None).split("\n")[0].split()
    assert chosen == avx512  # lifted exactly where the CPU has 512-bit vectors
    from glassnet.functional._numba import jit  # noqa: PLC0415

    lines = run_python(TARGET_FEATURES, NUMBA_CPU_FEATURES=None, NUMBA_CPU_NAME=None,
                       GLASSNET_VECTOR_PREFERENCE=None).split("\n")
    assert lines[1].endswith("," + jit.FULL_VECTORS) == (avx512 == "True")
    assert lines[1].startswith("+") or lines[1].startswith("-")  # the host's features come first
    assert ("512-bit vectors" in lines[2]) == (avx512 == "True")
    # the user's own choice of target, or LLVM's, is left as it is
    user = run_python(TARGET_FEATURES, NUMBA_CPU_FEATURES="+sse2,+avx", NUMBA_CPU_NAME=None).split("\n")
    assert user[0].split()[0] == "False" and user[1] == "+sse2,+avx"
    llvm_choice = run_python(TARGET_FEATURES, NUMBA_CPU_FEATURES=None, GLASSNET_VECTOR_PREFERENCE="llvm").split("\n")
    assert llvm_choice[0].split()[0] == "False" and jit.FULL_VECTORS not in llvm_choice[1]
    assert llvm_choice[2].endswith("LLVM's preferred vector width")


def test_full_vectors_are_not_chosen_once_numba_compiled_other_code_first():
    out = run_python("""
        import numba
        numba.njit(lambda a: a + 1)(1)  # the user's own numba code: the CPU target now exists
        from glassnet.functional._numba import activation, jit
        print(jit.VECTORS_CHOSEN)
    """, NUMBA_CPU_FEATURES=None, NUMBA_CPU_NAME=None, GLASSNET_VECTOR_PREFERENCE=None)
    assert out.split() == ["False"]
