"""What a new user waits for: ``glassnet train`` with no arguments, run twice in fresh processes,
first with an empty kernel cache (numba compiles every kernel the run uses), then with the cache
that run filled. Each run also reports the seconds numba spent compiling (its "numba:compile"
events, nested compilations counted once): the one-time cost of a fresh install, measured directly
rather than as the difference of two runs on a possibly busy machine.

Each run gets its own temporary run directory; the cache is a temporary ``NUMBA_CACHE_DIR``, so the
measurement neither uses nor disturbs the cache next to the installed package.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time


_CHILD = """
import json, sys, time
from numba.core import event
compile_s = [0.0]
depth = [0]
class Listener(event.Listener):
    def on_start(self, ev):
        depth[0] += 1
        if depth[0] == 1:
            self.t0 = time.perf_counter()
    def on_end(self, ev):
        depth[0] -= 1
        if depth[0] == 0:
            compile_s[0] += time.perf_counter() - self.t0
event.register("numba:compile", Listener())
from glassnet.cli import main
code = main(["train", "--out", sys.argv[1]])
print(json.dumps({"compile_s": compile_s[0]}))
sys.exit(code)
"""


def time_default_train(timeout=900):
    """{"cold_s", "warm_s", "cold_compile_s", "warm_compile_s"}: wall seconds of the two runs (each a
    whole process: import, data, 40 epochs, saving) and numba's compile seconds within each; or
    {"error": ...} if a run fails."""
    result = {}
    with tempfile.TemporaryDirectory(prefix="glassnet-first-run-") as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": os.path.join(tmp, "numba-cache")}
        for name in ("cold", "warm"):
            cmd = [sys.executable, "-c", _CHILD, os.path.join(tmp, name)]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                return {"error": f"glassnet train ({name} cache) exited {done.returncode}: {tail[0]}"}
            result[f"{name}_s"] = time.perf_counter() - t0
            result[f"{name}_compile_s"] = json.loads(done.stdout.strip().splitlines()[-1])["compile_s"]
    return result


def format_first_run(first):
    if "error" in first:
        return f"default `glassnet train`: {first['error']}"
    return (f"default `glassnet train` (fresh process each): {first['cold_s']:.1f} s with an empty kernel cache, of "
            f"which {first['cold_compile_s']:.1f} s compiling; {first['warm_s']:.1f} s with the cache filled "
            f"({first['warm_compile_s']:.1f} s compiling)")
