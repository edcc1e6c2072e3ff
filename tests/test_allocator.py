"""glassnet.allocator: importing glassnet makes glibc keep freed memory, so a loop that allocates and
frees the same large arrays (as a training step does) stops page-faulting after its first round; the
user's own malloc settings, or GLASSNET_MALLOC=system, leave glibc's defaults alone. Checked by counting
page faults in fresh processes (no timing)."""
import json
import os
import subprocess
import sys

import pytest

from glassnet import allocator

glibc = pytest.mark.skipif(not allocator._glibc(), reason="the thresholds are glibc's (Linux); elsewhere nothing is set")

ROUNDS = """
import json, resource, sys
import numpy as np
if sys.argv[1] == "glassnet":
    import glassnet
    from glassnet import allocator
    kept = allocator.kept()
else:
    kept = None
def round_():  # 8 arrays of 4 MiB, freed together: glibc's default trims them off the heap each round
    arrays = [np.ones(1 << 19) for _ in range(8)]
    del arrays
for _ in range(3):
    round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_()
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, "kept": kept}))
"""


def run_rounds(importing, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("GLASSNET_MALLOC", "MALLOC_TRIM_THRESHOLD_",
                                                                "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", ROUNDS, importing], env={**environ, **env}, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


@glibc
def test_importing_glassnet_keeps_freed_memory_so_repeated_rounds_do_not_page_fault():
    plain, with_glassnet = run_rounds("numpy"), run_rounds("glassnet")
    pages_per_round = 8 * (4 << 20) // 4096
    assert plain["faults"] > 2 * pages_per_round  # glibc's defaults: the rounds fault their pages anew
    assert with_glassnet["kept"] is True and with_glassnet["faults"] < pages_per_round // 10


@glibc
@pytest.mark.parametrize("env", [{"GLASSNET_MALLOC": "system"}, {"MALLOC_TRIM_THRESHOLD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}],
                         ids=["opt_out", "malloc_env", "glibc_tunables"])
def test_the_users_own_malloc_settings_are_left_alone(env):
    assert run_rounds("glassnet", **env)["kept"] is False
