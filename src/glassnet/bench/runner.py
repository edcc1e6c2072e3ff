"""Run workloads side by side and format the results (the library side of ``glassnet bench``)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import measure
from .first_run import format_first_run, time_default_train
from .onnx_reference import OrtModel, import_onnxruntime, profile_onnxruntime
from .workloads import SCALING_BATCHES, WORKLOADS, glassnet_step, import_torch, step_flops, torch_step, torch_twin


SETTLE_SECONDS = 0.1
"""With several threads, untimed steps of a side run for at least this long before each of its timed
steps (``measure.time_interleaved``): longer than onnxruntime's threads spin after a run. Measured
(two threads, LeNet-5 inference at batch 256): glassnet's step was 6.4-6.9 ms up to 40 ms after
onnxruntime's last run, 3.2-4.6 ms at 50-80 ms and back to its own 2.8-3.0 ms from 80 ms on (its
helpers spin too, so onnxruntime's spinning threads get half a core and spin longer in wall time
than the ~40 ms they spin beside an idle pool); after PyTorch's last step 5.8 ms for 10 ms, then
its own time."""


def run_workload(torch, workload, steps, warmup, peak_gflops, memory=True, threads=1, profile=False, profile_repeats=5,
                 clock="wall", ort=None):
    """Time ``workload`` on every side (interleaved) and return a dict of results.

    Sides: glassnet and PyTorch, and for an inference workload onnxruntime too when ``ort`` (the
    onnxruntime module) is given. Keys: name, batch, train, glassnet / torch / onnxruntime (time
    summaries in seconds per forward pass or training step), ratio (summary of the per-round
    t_torch / t_glassnet: > 1 means glassnet is faster), ratio_ort (t_onnxruntime / t_glassnet),
    images_per_s, gflops, peak_fraction, memory (peak bytes per side, if measured), profile
    (per-layer rows, if asked for) and, with several threads, core_round_trip_ns (before and after
    the timed steps, ``measure.core_round_trip``).
    """
    model = workload.build()
    x, y = workload.batch_data()
    steps_by_side = {"glassnet": glassnet_step(model, workload, x, y),
                     "torch": torch_step(torch, torch_twin(model), workload, x, y)}
    if ort is not None and not workload.train:
        steps_by_side["onnxruntime"] = ort_step(OrtModel(ort, model, workload.input_shape, threads), workload, x)
    round_trip = [measure.core_round_trip()] if threads > 1 else None
    times = measure.time_interleaved(*steps_by_side.values(), steps=steps, warmup=warmup, clock=clock,
                                     settle=SETTLE_SECONDS if threads > 1 else 0.0)
    if round_trip:
        round_trip.append(measure.core_round_trip())
    times = {side: np.asarray(t) / workload.calls for side, t in zip(steps_by_side, times)}
    flops = step_flops(workload, model)
    res = {"name": workload.name, "description": workload.description, "batch": workload.batch,
           "train": workload.train, "flops": flops}
    res.update({side: measure.summarize(t) for side, t in times.items()})
    if round_trip:
        res["core_round_trip_ns"] = round_trip
    res["ratio"] = measure.summarize(times["torch"] / times["glassnet"])
    if "onnxruntime" in times:
        res["ratio_ort"] = measure.summarize(times["onnxruntime"] / times["glassnet"])
    res["images_per_s"] = {side: workload.batch / res[side]["median"] for side in times}
    res["gflops"] = {side: flops / res[side]["median"] / 1e9 for side in times}
    res["peak_fraction"] = {side: g / peak_gflops for side, g in res["gflops"].items()} if peak_gflops else None
    if memory:
        res["memory"] = {side: measure.peak_step_memory(workload.name, side, threads, workload.batch)
                         for side in ("glassnet", "torch")}
    if profile:
        prof_model = workload.build()
        res["profile"] = {
            "glassnet": measure.profile_glassnet(prof_model, workload, x, y, profile_repeats, clock),
            "torch": measure.profile_torch(torch, torch_twin(prof_model), workload, x, y, profile_repeats, clock),
        }
        if "onnxruntime" in times:
            res["profile"]["onnxruntime"] = profile_onnxruntime(ort, prof_model, workload, x, profile_repeats, threads)
    return res


def ort_step(runner, workload, x):
    """One timed step of onnxruntime: ``workload.calls`` forward passes."""
    def infer():
        for _ in range(workload.calls):
            out = runner(x)
        return out

    return infer


def run_scaling(torch, steps, warmup, batches=SCALING_BATCHES, name="lenet-train-64", clock="wall", threads=1):
    """LeNet training step time at each batch size (interleaved, like the main table).

    Returns rows (batch, glassnet median s, torch median s, ratio median) and the least-squares
    line t = a + b * batch for each side with the largest relative deviation from it.
    """
    rows = []
    for batch in batches:
        workload = replace(WORKLOADS[name], batch=batch, name=f"lenet-train-{batch}")
        res = run_workload(torch, workload, steps, warmup, None, memory=False, threads=threads, clock=clock)
        rows.append({"batch": batch, "glassnet": res["glassnet"]["median"], "torch": res["torch"]["median"],
                     "ratio": res["ratio"]["median"]})
    fits = {}
    b = np.array([r["batch"] for r in rows], dtype=float)
    for side in ("glassnet", "torch"):
        t = np.array([r[side] for r in rows])
        slope, intercept = np.polyfit(b, t, 1)
        pred = intercept + slope * b
        fits[side] = {"intercept_ms": intercept * 1e3, "us_per_image": slope * 1e6,
                      "max_rel_deviation": float(np.max(np.abs(t - pred) / t))}
    return {"rows": rows, "fits": fits}


def benchmark(names=None, steps=20, warmup=3, threads=None, memory=True, profile=False, scaling=False,
              scaling_only=False, progress=None, clock="wall", quick=False, first_run=False):
    """Everything ``glassnet bench`` prints, as a dict (see :func:`format_report`)."""
    torch = import_torch()
    threads = threads or measure.default_threads()
    notes = measure.set_threads(threads, torch)
    names = list(names or WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    report = {"threads": threads, "steps": steps, "warmup": warmup, "notes": notes, "clock": clock,
              "machine": measure.machine_info(torch), "results": [],
              "sgemm": measure.sgemm_peak(torch, n=1024 if quick else 2048, repeats=3 if quick else 5, clock=clock)}
    if threads > 1:
        report["machine"]["core_round_trip_ns"] = measure.core_round_trip()
    ort = import_onnxruntime()
    if ort is None:
        notes.append("onnx/onnxruntime not installed: inference is timed against PyTorch only (pip install 'glassnet[onnx]')")
    else:
        report["machine"]["onnxruntime"] = ort.__version__
    if not scaling_only:
        for name in names:
            if progress:
                progress(name)
            report["results"].append(run_workload(torch, WORKLOADS[name], steps, warmup, report["sgemm"]["peak"],
                                                  memory=memory, threads=threads, profile=profile, clock=clock, ort=ort))
    if scaling or scaling_only:
        if progress:
            progress("scaling")
        report["scaling"] = run_scaling(torch, steps, warmup, clock=clock, threads=threads)
    if first_run:
        if progress:
            progress("first run of the default glassnet train (twice, in fresh processes)")
        report["first_run"] = time_default_train()
    return report


# ------------------------------------------------------------------------------------------ format
def _ms(summary):
    return f"{summary['median'] * 1e3:.2f} [{summary['q1'] * 1e3:.2f}-{summary['q3'] * 1e3:.2f}]"


def _ns(value):
    return "-" if value is None else f"{value:.0f}"


def _mb(mem):
    if mem is None or "peak_bytes" not in mem:
        return "-"
    return f"{mem['peak_bytes'] / 2**20:.0f}"


def format_table(results, markdown=False):
    header = ["workload", "batch", "glassnet ms [IQR]", "PyTorch ms [IQR]", "glassnet img/s", "PyTorch img/s",
              "speed ratio g/t [IQR]", "GFLOP/s g / t", "% sgemm peak g / t", "peak MB g / t (ratio)"]
    round_trips = any(r.get("core_round_trip_ns") for r in results)
    if round_trips:
        header.append("core rt ns")
    rows = []
    for r in results:
        ratio = r["ratio"]
        frac = r.get("peak_fraction")
        mem = r.get("memory") or {}
        mem_g, mem_t = mem.get("glassnet"), mem.get("torch")
        mem_ratio = ""
        if mem_g and mem_t and "peak_bytes" in mem_g and mem_t.get("peak_bytes"):
            mem_ratio = f" ({mem_g['peak_bytes'] / mem_t['peak_bytes']:.2f}x)"
        rows.append([
            r["name"], str(r["batch"]), _ms(r["glassnet"]), _ms(r["torch"]),
            f"{r['images_per_s']['glassnet']:.0f}", f"{r['images_per_s']['torch']:.0f}",
            f"{ratio['median']:.2f} [{ratio['q1']:.2f}-{ratio['q3']:.2f}]",
            f"{r['gflops']['glassnet']:.1f} / {r['gflops']['torch']:.1f}",
            f"{100 * frac['glassnet']:.0f}% / {100 * frac['torch']:.0f}%" if frac else "-",
            f"{_mb(mem_g)} / {_mb(mem_t)}{mem_ratio}" if mem else "-",
        ])
        if round_trips:
            rows[-1].append(" / ".join(_ns(v) for v in r.get("core_round_trip_ns") or [None]))
    return _render(header, rows, markdown)


def format_ort_table(results, markdown=False):
    """Inference workloads against both references: onnxruntime (same exported model) and PyTorch."""
    header = ["workload", "batch", "glassnet ms [IQR]", "onnxruntime ms [IQR]", "PyTorch ms [IQR]",
              "ratio g/ort [IQR]", "ratio g/t"]
    rows = [[r["name"], str(r["batch"]), _ms(r["glassnet"]), _ms(r["onnxruntime"]), _ms(r["torch"]),
             f"{r['ratio_ort']['median']:.2f} [{r['ratio_ort']['q1']:.2f}-{r['ratio_ort']['q3']:.2f}]",
             f"{r['ratio']['median']:.2f}"] for r in results if "ratio_ort" in r]
    return _render(header, rows, markdown) if rows else ""


def _render(header, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x[i])) for x in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(header), "-" * (sum(widths) + 2 * (len(widths) - 1)), *map(fmt, rows)])


def format_profile(result, markdown=False):
    """Per-layer forward/backward times of both sides (training); for inference one table per side,
    as their steps differ (glassnet's plan fuses layers, onnxruntime's nodes are its own)."""
    prof = result["profile"]
    f = lambda v: "-" if v is None else f"{v * 1e3:.3f}"  # noqa: E731
    if not result["train"]:
        tables = []
        for side, title in (("glassnet", "glassnet plan step"), ("onnxruntime", "onnxruntime node"), ("torch", "PyTorch layer")):
            if side in prof:
                rows = [[name, f(t)] for name, t, _ in prof[side]]
                rows.append(["total", f(sum(t for _, t, _ in prof[side]))])
                tables.append(_render([title, "ms"], rows, markdown))
        return "\n\n".join(tables)
    g, t = prof["glassnet"], prof["torch"]
    header = ["layer", "glassnet fwd ms", "PyTorch fwd ms", "glassnet bwd ms", "PyTorch bwd ms"]
    rows = [[name, f(gf), f(tf), f(gb), f(tb)] for (name, gf, gb), (_, tf, tb) in zip(g, t)]
    tot = lambda side, k: sum(r[k] for r in side if r[k] is not None)  # noqa: E731
    rows.append(["total", f(tot(g, 1)), f(tot(t, 1)), f(tot(g, 2)), f(tot(t, 2))])
    return _render(header, rows, markdown)


def format_scaling(scaling, markdown=False):
    header = ["batch", "glassnet ms", "PyTorch ms", "glassnet us/img", "PyTorch us/img", "speed ratio g/t"]
    rows = [[str(r["batch"]), f"{r['glassnet'] * 1e3:.2f}", f"{r['torch'] * 1e3:.2f}",
             f"{r['glassnet'] / r['batch'] * 1e6:.1f}", f"{r['torch'] / r['batch'] * 1e6:.1f}", f"{r['ratio']:.2f}"]
            for r in scaling["rows"]]
    text = _render(header, rows, markdown)
    fits = "\n".join(
        f"{side}: t = {f['intercept_ms']:.2f} ms + {f['us_per_image']:.1f} us x batch "
        f"(largest deviation from the line {100 * f['max_rel_deviation']:.0f}%)"
        for side, f in scaling["fits"].items()
    )
    return text + "\n" + fits


def format_machine(report):
    m = report["machine"]
    lines = [
        f"CPU: {m['cpu']} ({m['cores']} cores, {m['usable_cores']} usable); threads per side: {report['threads']}",
        f"Python {m['python']}, NumPy {m['numpy']}, PyTorch {m.get('torch', '-')}; glassnet kernels: {m['glassnet_kernels']}",
    ]
    if "numba_target" in m:
        lines.append(f"numba compiles for: {m['numba_target']}")
    if "load_average" in m:
        lines.append("load average: " + ", ".join(f"{v:.2f}" for v in m["load_average"])
                     + " (other processes share these cores if it exceeds the thread count)")
    for lib in m["blas"]:
        desc = ", ".join(f"{k}={v}" for k, v in lib.items() if k != "user_api")
        lines.append(f"{lib.get('user_api', '?')}: {desc}")
    env = m["env"]
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        lines.append(f"{k}: {'set to ' + repr(env[k]) if env.get(k) is not None else 'not set'}")
    if any(env.get(k) is not None for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
        lines.append("  (these can slow NumPy's OpenBLAS; compare with: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE glassnet bench)")
    if "malloc_kept" in m:
        lines.append("malloc: " + ("glibc keeps freed memory (glassnet.allocator; for both sides: they share the process)"
                                   if m["malloc_kept"] else "glibc's default thresholds (glassnet.allocator not applied)"))
    if "core_round_trip_ns" in m:
        lines.append(f"core-to-core round trip: {_ns(m['core_round_trip_ns'])} ns (two threads passing a flag; "
                     "several times the usual value means distant cores, which slows every layer threads share)")
    s = report["sgemm"]
    parts = ", ".join(f"{k} {s[k]:.1f}" for k in ("numpy", "torch") if k in s)
    lines.append(f"sgemm peak ({s['n']}^3 float32 matmul, {report['threads']} threads, best of {s['repeats']}): "
                 f"{s['peak']:.1f} GFLOP/s ({parts})")
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


FAR_ROUND_TRIP = 2
"""A core-to-core round trip over this many times the lowest one of a run marks a far placement
(BENCHMARKS.md, eleventh pass: ~70 ns near, 300-350 ns far on its two-vCPU machine)."""


def far_placements(report):
    """Names of the workloads around which a core-to-core round trip read over FAR_ROUND_TRIP times
    the lowest reading of the report (its header's and every workload's)."""
    readings = [(r["name"], [v for v in r.get("core_round_trip_ns") or [] if v is not None]) for r in report["results"]]
    every = [v for _, vs in readings for v in vs]
    if report["machine"].get("core_round_trip_ns") is not None:
        every.append(report["machine"]["core_round_trip_ns"])
    if not every:
        return []
    return [name for name, vs in readings if any(v > FAR_ROUND_TRIP * min(every) for v in vs)]


def format_report(report, markdown=False):
    out = [format_machine(report), ""]
    if report["results"]:
        settled = (f"; each after untimed steps of its own side (at least {SETTLE_SECONDS * 1000:.0f} ms)"
                   if report["threads"] > 1 else "")
        out += [f"timing ({report['clock']} clock): median [quartiles] of {report['steps']} interleaved steps after "
                f"{report['warmup']} warm-up steps{settled}; speed ratio = t_PyTorch / t_glassnet per round "
                "(> 1: glassnet faster)", ""]
        out.append(format_table(report["results"], markdown))
        ort_table = format_ort_table(report["results"], markdown)
        if ort_table:
            out += ["", f"inference against onnxruntime {report['machine'].get('onnxruntime', '')} (same model exported by "
                    "glassnet.io.to_onnx, same threads; glassnet runs glassnet.inference.InferencePlan); "
                    "ratio = t_onnxruntime / t_glassnet", ort_table]
        if any(r.get("core_round_trip_ns") for r in report["results"]):
            out.append("core rt ns: core-to-core round trip before / after the workload's timed steps "
                       "(glassnet.bench.measure.core_round_trip)")
            far = far_placements(report)
            if far:
                out.append(f"note: the round trip was over {FAR_ROUND_TRIP}x its lowest reading of this run around "
                           f"{', '.join(far)}: the cores were farther apart then, and those rows' two-thread times "
                           "are not comparable with the others")
        if any("memory" in r for r in report["results"]):
            out.append("peak MB: extra resident memory of 3 steps in a fresh process per side (VmHWM - VmRSS)")
        for r in report["results"]:
            if "profile" in r:
                out += ["", f"per-layer profile, {r['name']} (median of 5):", format_profile(r, markdown)]
    if "first_run" in report:
        out += ["", format_first_run(report["first_run"])]
    if "scaling" in report:
        out += ["", "scaling: LeNet training step vs batch size", format_scaling(report["scaling"], markdown)]
    return "\n".join(out)
