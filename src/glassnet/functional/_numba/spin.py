"""Waiting without the GIL: the compiled loops in which glassnet's pool threads wait for each other.

A thread that blocks (on a lock, a queue or the GIL) lets its core go idle, and waking an idle core
costs tens of microseconds - more than many layers' share of work. These loops instead watch a
few int64 flags in a NumPy array, inside compiled code that has released the GIL, pausing the
core between looks (:func:`_relax`), for a bounded number of looks (the caller falls back to
blocking afterwards). See :class:`threads._Team` for the protocol:

    flags[0]              the number of the last job posted (the caller counts 1, 2, 3, ...)
    flags[1 + h]          the last job helper h joined (claimed work in)
    flags[1 + size + h]   the last job after which helper h went idle (waiting here, without the GIL)

:func:`pass_turn` uses the same kind of loop to time how long one core takes to see what another
wrote (``glassnet.bench.measure.core_round_trip``).
"""
from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .jit import kernel

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@intrinsic
def _relax(typingctx):
    """A full memory fence (flags written by other threads are read again after it: the compiler
    may not keep them in registers across the loop) and, on x86, the ``pause`` instruction that
    spin loops are meant to use."""

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        if _X86:
            pause = builder.module.declare_intrinsic("llvm.x86.sse2.pause", fnty=ir.FunctionType(ir.VoidType(), []))
            builder.call(pause, [])
        return context.get_dummy_value()

    return types.none(), codegen


@kernel
def await_job(flags, h, seq, looks, grace):  # pragma: no cover - compiled
    """Helper h, done with job ``seq``: mark itself idle (the GIL is already released here), then look
    at flags[0] until a newer job is posted or ``looks`` looks have passed. After a new job, wait
    ``grace`` more pauses before returning to Python, which takes the GIL: by then the caller, which
    posted the job just before starting its own first piece, has most likely released it.
    Returns the number of the last job posted (``seq`` if none came)."""
    flags[1 + (flags.size - 1) // 2 + h] = seq
    for _ in range(looks):
        if flags[0] != seq:
            break
        _relax()
    if flags[0] != seq:
        for _ in range(grace):
            _relax()
    return flags[0]


@kernel
def await_helpers(flags, seq, helpers, looks):  # pragma: no cover - compiled
    """The caller of job ``seq``: look until every helper h < ``helpers`` that joined it is idle again
    (or ``looks`` looks have passed). Returns whether they all are."""
    size = (flags.size - 1) // 2
    for _ in range(looks):
        done = True
        for h in range(helpers):
            if flags[1 + h] == seq and flags[1 + size + h] != seq:
                done = False
        if done:
            return True
        _relax()
    return False


@kernel
def pass_turn(flags, me, rounds, looks):  # pragma: no cover - compiled
    """Player ``me`` (0 or 1) of a ping-pong between two threads: ``rounds`` times, look at flags[0]
    until it is ``me`` (at most ``looks`` looks), then give the turn to the other player by writing
    1 - me there. Each round trip moves the flag's cache line from one core to the other and back.
    Returns the rounds played: fewer than ``rounds`` if the other player stopped answering."""
    for r in range(rounds):
        seen = False
        for _ in range(looks):
            if flags[0] == me:
                seen = True
                break
            _relax()
        if not seen:
            return r
        flags[0] = 1 - me
    return rounds
