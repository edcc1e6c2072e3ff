"""Runs learner files in a separate process with a time limit, and turns what it reports into results.

The worker (:mod:`worker`) grades the files one after the other and appends an event per finished
part to a file. The parent polls it: a file whose grading runs past ``timeout`` seconds has the
worker killed, its unfinished part marked "stopped after the time limit" and the rest "not run";
a worker that dies (``os._exit``, a crash) marks the part it was on the same way with its exit
code. Grading then resumes with a fresh worker from the next file, so one bad file never costs
the others their grade and the grader itself never hangs. On POSIX the worker's address space is
capped (``memory_mb``), so a file that allocates without bound fails with a MemoryError in its own
part instead of swapping the machine to a halt.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from .checks import Part, planned_parts
from .report import GradeResult

POLL_S = 0.02
START_LIMIT_S = 120.0   # importing numpy and glassnet in the worker, on a very busy machine
DEFAULT_TIMEOUT_S = 60.0   # what the learner's file may take in all
DEFAULT_MEMORY_MB = 4096  # the worker's address space: numpy, glassnet and the cases need a few hundred MB


def _memory_cap(memory_mb):
    """A preexec_fn limiting the child's address space to ``memory_mb`` MiB (None where POSIX limits are missing)."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the time limit still holds
        return None
    limit = int(memory_mb) * 1024 * 1024

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return cap


def _worker_env():
    env = dict(os.environ)
    env["GLASSNET_KERNELS"] = "numpy"    # the reference kernels: no compilation in a short-lived process
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def _read_events(handle):
    """The complete lines appended to ``handle`` since the last call."""
    events = []
    while True:
        position = handle.tell()
        line = handle.readline()
        if not line.endswith("\n"):
            handle.seek(position)
            return events
        events.append(json.loads(line))


def _run_worker(jobs, timeout, memory_mb, on_event):
    """Grade ``jobs`` in one worker; return (index of the unfinished job or None, 'timeout'|'crashed', code)."""
    with tempfile.TemporaryDirectory(prefix="glassnet-grade-") as tmp:
        events_path = os.path.join(tmp, "events.jsonl")
        open(events_path, "w").close()
        proc = subprocess.Popen(
            [sys.executable, "-m", "glassnet.exercises.worker", events_path, json.dumps(jobs)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=_worker_env(), cwd=tmp, preexec_fn=_memory_cap(memory_mb),
        )
        current, started = None, time.monotonic()
        with open(events_path, encoding="utf-8") as events:
            def drain():
                nonlocal current, started
                for event in _read_events(events):
                    if event.get("start"):
                        current, started = event["job"], time.monotonic()
                    on_event(event)

            try:
                while True:
                    finished = proc.poll() is not None
                    drain()
                    if finished:
                        break
                    limit = timeout if current is not None else START_LIMIT_S
                    if time.monotonic() - started > limit:
                        proc.kill()
                        proc.wait()
                        drain()  # parts finished in the last poll interval still count
                        return (current if current is not None else 0), "timeout", None
                    time.sleep(POLL_S)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if proc.returncode != 0:
            return (current if current is not None else 0), "crashed", proc.returncode
        return None, None, None


def grade_files(files, timeout=DEFAULT_TIMEOUT_S, memory_mb=DEFAULT_MEMORY_MB):
    """Grade ``files`` ([(path, exercise name)]) with ``timeout`` seconds per file and at most ``memory_mb``
    MiB of address space for the worker; a GradeResult each."""
    results = [GradeResult(exercise, os.fspath(path)) for path, exercise in files]
    jobs = [[os.path.abspath(path), exercise] for path, exercise in files]
    first = 0

    while first < len(jobs):
        def on_event(event, offset=first):
            result = results[offset + event["job"]]
            if "part" in event:
                result.parts.append(event["part"])
            elif "load_error" in event:
                result.parts.append(Part("all", "load", message=tuple(event["load_error"])).as_dict())

        stopped, why, code = _run_worker(jobs[first:], timeout, memory_mb, on_event)
        if stopped is None:
            break
        index = first + stopped
        _mark_unfinished(results[index], why, timeout, code)
        first = index + 1
    return results


def _mark_unfinished(result, why, timeout, code):
    """Fill the parts a stopped worker did not report: the one it was on, then 'not run'."""
    done = {(p["function"], p["kind"]) for p in result.parts}
    todo = [fk for fk in planned_parts(result.exercise) if fk not in done]
    for n, (function, kind) in enumerate(todo):
        if n:
            message = ("not_run", {})
        elif why == "timeout":
            message = ("timeout", {"seconds": timeout})
        else:
            message = ("crashed", {"code": code})
        hint = "timeout" if n == 0 and why == "timeout" else None
        result.parts.append(Part(function, kind, message=message, hint=hint).as_dict())
