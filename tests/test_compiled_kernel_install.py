"""The compiled kernels as a default install gets them: numba is a core dependency, compiles only the
kernels that run, keeps them in an on-disk cache a second process loads instead of compiling (also
when the package directory is read-only, as site-packages is for a non-root user), and the NumPy
reference takes over where numba cannot be imported. Each check runs in a fresh interpreter."""
import os
import subprocess
import sys
import textwrap

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
    assert first[3] == "['activation', 'threads']"  # the other families' twins are not even imported
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
