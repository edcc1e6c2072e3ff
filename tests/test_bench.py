"""Smoke tests of the benchmark (`glassnet bench`): it runs with tiny settings and reports every field.
Nothing here asserts a speed: timings on a shared test machine mean nothing."""
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassnet import cli  # noqa: E402
from glassnet.bench import WORKLOADS, format_report, run_scaling, run_workload  # noqa: E402
from glassnet.bench import measure  # noqa: E402
from glassnet.bench.measure import peak_step_memory, set_threads, sgemm_peak, summarize, time_interleaved  # noqa: E402
from glassnet.bench.workloads import layer_flops, step_flops, torch_twin  # noqa: E402
from glassnet import kernels  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """One thread per side during a test; the thread counts of torch, BLAS and numba are put back."""
    try:
        from threadpoolctl import threadpool_limits

        restore_blas = threadpool_limits(limits=None)  # puts the BLAS thread counts back on exit
    except ImportError:
        restore_blas = nullcontext()
    saved = torch.get_num_threads(), kernels.get_num_threads()
    with restore_blas:
        set_threads(1, torch)
        yield
    torch.set_num_threads(saved[0])
    kernels.set_num_threads(saved[1])


def test_set_threads_limits_the_blas_of_the_compiled_kernels_products_too():
    """numba's np.dot calls SciPy's BLAS, which a fresh process has not loaded yet: left at its default
    count, every compiled product would set it to one thread and back (3 us each time)."""
    script = ("import threadpoolctl\n"
              "from glassnet.bench.measure import set_threads\n"
              "set_threads(1)\n"
              "import scipy.linalg.cython_blas  # what the compiled kernels load when they first multiply\n"
              "print(*[lib['num_threads'] for lib in threadpoolctl.threadpool_info() if lib['user_api'] == 'blas'])\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True).stdout
    counts = out.split()  # the thread count of every BLAS loaded
    assert counts and set(counts) == {"1"}


def tiny(name, batch=4):
    return replace(WORKLOADS[name], batch=batch)


def test_the_workloads_named_in_the_issue_exist():
    assert {"lenet-train-64", "lenet-train-256", "lenet-infer-256", "cifar-train-128", "cifar-infer-128",
            "mlp-train-256", "lenet-infer-1", "cifar-infer-1"} <= set(WORKLOADS)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_torch_twin_computes_the_same_forward_as_the_glassnet_model(name):
    workload = tiny(name, batch=3)
    model = workload.build().eval()
    twin = torch.nn.Sequential(*torch_twin(model)).eval()
    x, _ = workload.batch_data()
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-4, atol=1e-4)


def test_time_interleaved_alternates_sides_and_settles_each_timed_call_with_untimed_calls_of_its_own_side():
    calls = []
    sides = [lambda: calls.append("g"), lambda: calls.append("t")]
    times = time_interleaved(*sides, steps=3, warmup=1, settle=1e-9)  # shorter than a call: one untimed call
    assert [len(t) for t in times] == [3, 3]
    assert "".join(calls) == "gt" + "ggtt" + "ttgg" + "ggtt"  # warm-up, then rounds alternating who goes first
    calls.clear()
    time_interleaved(*sides, steps=2, warmup=0)
    assert "".join(calls) == "gttg"


def test_time_interleaved_settles_for_at_least_the_given_seconds_before_each_timed_call():
    starts = []

    def step():
        starts.append(time.perf_counter())
        time.sleep(0.001)

    times = time_interleaved(step, steps=1, warmup=0, settle=0.02)
    assert len(times[0]) == 1
    # every call but the last (the timed one) is a settling call; together they fill the 20 ms
    assert len(starts) >= 3
    assert starts[-1] - starts[0] >= 0.019


def test_run_workload_reports_times_ratio_throughput_flops_and_profile():
    res = run_workload(torch, tiny("lenet-train-64"), steps=3, warmup=1, peak_gflops=50.0, memory=False,
                       profile=True, profile_repeats=1)
    for side in ("glassnet", "torch"):
        assert res[side]["n"] == 3 and 0 < res[side]["min"] <= res[side]["median"] <= res[side]["max"]
        assert res["images_per_s"][side] > 0 and res["gflops"][side] > 0 and res["peak_fraction"][side] > 0
    assert res["ratio"]["q1"] <= res["ratio"]["median"] <= res["ratio"]["q3"]
    assert res["flops"] == step_flops(tiny("lenet-train-64"), tiny("lenet-train-64").build())
    rows_g, rows_t = res["profile"]["glassnet"], res["profile"]["torch"]
    assert len(rows_g) == len(rows_t) == 12 + 2  # every layer, the loss and the optimizer step
    assert all(fwd >= 0 and (bwd is None or bwd >= 0) for _, fwd, bwd in rows_g + rows_t)
    text = format_report({"threads": 1, "steps": 3, "warmup": 1, "notes": [], "clock": "wall",
                          "machine": {"cpu": "x", "cores": 1, "usable_cores": 1, "python": "3", "numpy": "2",
                                      "glassnet_kernels": "k", "blas": [], "env": {}},
                          "sgemm": {"numpy": 50.0, "peak": 50.0, "n": 64, "repeats": 1}, "results": [res]})
    assert "lenet-train-64" in text and "per-layer profile" in text and "speed ratio" in text


def test_the_core_round_trip_is_timed_by_two_threads_passing_a_flag(monkeypatch):
    rt = measure.core_round_trip(rounds=200, repeats=2)
    if measure.default_threads() >= 2:
        assert isinstance(rt, float) and 0 < rt < float("inf")  # nanoseconds per round trip (any load)
    else:  # both threads would share one core: not measured
        assert rt is None
    monkeypatch.setattr(measure, "default_threads", lambda: 1)
    assert measure.core_round_trip() is None


def test_pass_turn_plays_every_round_with_a_partner_and_gives_up_without_one():
    import threading

    from glassnet.functional._numba import spin

    flag = np.zeros(1, dtype=np.int64)
    played = []
    other = threading.Thread(target=lambda: played.append(spin.pass_turn(flag, 1, 500, 1 << 30)))
    other.start()
    assert spin.pass_turn(flag, 0, 500, 1 << 30) == 500
    other.join()
    assert played == [500] and flag[0] == 0  # the last round trip handed the turn back to player 0
    flag[0] = 1  # player 1's turn, and nobody plays it: player 0 looks 1000 times, then stops
    assert spin.pass_turn(flag, 0, 3, 1000) == 0


def test_with_two_threads_a_workload_reports_the_core_round_trip_before_and_after_its_steps(monkeypatch):
    calls = iter([70.0, 320.0])
    monkeypatch.setattr(measure, "core_round_trip", lambda: next(calls))
    res = run_workload(torch, tiny("lenet-train-64"), steps=1, warmup=0, peak_gflops=None, memory=False, threads=2)
    assert res["core_round_trip_ns"] == [70.0, 320.0]
    one = run_workload(torch, tiny("lenet-train-64"), steps=1, warmup=0, peak_gflops=None, memory=False, threads=1)
    assert "core_round_trip_ns" not in one
    report = {"threads": 2, "steps": 1, "warmup": 0, "notes": [], "clock": "wall",
              "machine": {"cpu": "x", "cores": 2, "usable_cores": 2, "python": "3", "numpy": "2",
                          "glassnet_kernels": "k", "blas": [], "env": {}, "core_round_trip_ns": 71.4},
              "sgemm": {"numpy": 50.0, "peak": 50.0, "n": 64, "repeats": 1}, "results": [res, one]}
    text = format_report(report)
    assert "core-to-core round trip: 71 ns" in text
    header, rule, row, row_one = text.split("\n\n")[2].splitlines()[:4]
    assert header.rstrip().endswith("core rt ns") and row.rstrip().endswith("70 / 320") and row_one.rstrip().endswith("-")
    assert "core rt ns: core-to-core round trip before / after" in text
    assert "note: the round trip was over 2x its lowest reading of this run around lenet-train-64:" in text
    report["results"][0]["core_round_trip_ns"] = [70.0, 90.0]
    assert "round trip was over" not in format_report(report)


def test_profile_of_a_model_that_starts_with_flatten_times_every_layer():
    res = run_workload(torch, tiny("mlp-train-256"), steps=1, warmup=0, peak_gflops=None, memory=False,
                       profile=True, profile_repeats=1)
    rows_g, rows_t = res["profile"]["glassnet"], res["profile"]["torch"]
    assert rows_t[0][0].endswith("Flatten") and len(rows_g) == len(rows_t) == len(tiny("mlp-train-256").build()) + 2
    assert all(fwd >= 0 and bwd >= 0 for _, fwd, bwd in rows_t[:-2])


def test_inference_workload_has_no_backward_column():
    res = run_workload(torch, tiny("cifar-infer-128", batch=2), steps=2, warmup=0, peak_gflops=None, memory=False,
                       profile=True, profile_repeats=1)
    assert res["train"] is False and res["peak_fraction"] is None
    assert all(bwd is None for _, _, bwd in res["profile"]["glassnet"])


def test_inference_is_timed_against_onnxruntime_with_its_per_node_profile_and_the_plans_fused_steps():
    ort = pytest.importorskip("onnxruntime")
    res = run_workload(torch, tiny("lenet-infer-1", batch=1), steps=3, warmup=1, peak_gflops=None, memory=False,
                       profile=True, profile_repeats=1, ort=ort)
    assert res["onnxruntime"]["n"] == 3 and res["onnxruntime"]["median"] > 0
    assert res["ratio_ort"]["q1"] <= res["ratio_ort"]["median"] <= res["ratio_ort"]["q3"]
    steps = [name for name, _, _ in res["profile"]["glassnet"]]
    assert steps[:2] == ["layers 0-2 conv+bias+relu+maxpool", "layers 3-5 conv+bias+relu+maxpool (kernel rows)"]
    nodes = [name for name, _, _ in res["profile"]["onnxruntime"]]
    assert any("Conv" in n for n in nodes) and any("Gemm" in n for n in nodes)
    text = format_report({"threads": 1, "steps": 3, "warmup": 1, "notes": [], "clock": "wall",
                          "machine": {"cpu": "x", "cores": 1, "usable_cores": 1, "python": "3", "numpy": "2",
                                      "glassnet_kernels": "k", "blas": [], "env": {}, "onnxruntime": ort.__version__},
                          "sgemm": {"numpy": 50.0, "peak": 50.0, "n": 64, "repeats": 1}, "results": [res]})
    assert "inference against onnxruntime" in text and "ratio g/ort" in text and "onnxruntime node" in text


def test_a_training_workload_ignores_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    res = run_workload(torch, tiny("mlp-train-256"), steps=1, warmup=0, peak_gflops=None, memory=False, ort=ort)
    assert "onnxruntime" not in res and "ratio_ort" not in res


def test_flop_count_of_lenet_forward_by_hand():
    model = tiny("lenet-train-64").build()
    per_layer = [f for _, _, f in layer_flops(model, (1, 28, 28))]
    assert per_layer == [2 * 25 * 6 * 28 * 28, 2 * 150 * 16 * 10 * 10, 2 * 400 * 120, 2 * 120 * 84, 2 * 84 * 10]


def test_flop_count_of_resnet20_and_cnn1d_covers_residual_bodies_shortcuts_and_1d_convolutions():
    rows = layer_flops(tiny("resnet20-train-128").build(), (3, 32, 32))
    assert len(rows) == 19 + 2 + 1  # convolutions, the two projection shortcuts, the FC layer
    assert rows[0] == ("0", "Conv2d", 2 * 3 * 9 * 16 * 32 * 32)
    assert ("9.shortcut.0", "Conv2d", 2 * 16 * 32 * 16 * 16) in rows
    assert sum(f for _, _, f in rows) / 2 == pytest.approx(40.8e6, rel=0.01)  # ResNet-20: ~41 M multiply-adds
    conv1d_rows = layer_flops(tiny("cnn1d-train-128").build(), (3, 1024))
    assert conv1d_rows[0] == ("0", "Conv1d", 2 * 3 * 7 * 32 * 1024)


def test_scaling_fits_a_line_per_side():
    result = run_scaling(torch, steps=1, warmup=0, batches=(2, 4, 8))
    assert [r["batch"] for r in result["rows"]] == [2, 4, 8]
    assert set(result["fits"]) == {"glassnet", "torch"}


def test_peak_memory_is_measured_in_a_subprocess():
    mem = peak_step_memory("lenet-train-64", "glassnet", 1, batch=8)
    assert "error" not in mem, mem
    assert mem["peak_bytes"] >= 0 and mem["method"]


def test_sgemm_peak_and_summaries():
    s = sgemm_peak(torch, n=64, repeats=1)
    assert s["peak"] == max(s["numpy"], s["torch"]) > 0
    assert summarize([3.0, 1.0, 2.0])["median"] == 2.0


def test_glassnet_bench_command_runs_one_quick_workload(capsys):
    assert cli.main(["bench", "--workload", "lenet-infer-256", "--quick", "--steps", "1", "--warmup", "0",
                     "--threads", "1"]) == 0
    out = capsys.readouterr().out
    for field in ("lenet-infer-256", "img/s", "speed ratio", "GFLOP/s", "sgemm peak", "OPENBLAS_CORETYPE", "glassnet kernels"):
        assert field in out


def test_glassnet_bench_rejects_an_unknown_workload():
    with pytest.raises(SystemExit):
        cli.main(["bench", "--workload", "resnet152"])


def test_first_run_times_the_default_train_from_an_empty_kernel_cache_and_from_a_filled_one(monkeypatch):
    from glassnet.bench import first_run

    calls = []

    def fake_run(cmd, env, **kwargs):  # the two runs share one fresh cache dir; each prints its compile time
        calls.append((cmd[-1], env["NUMBA_CACHE_DIR"]))
        return subprocess.CompletedProcess(cmd, 0, stdout='epoch ...\n{"compile_s": %s}\n' % (4.0 if len(calls) == 1 else 0.0))

    monkeypatch.setattr(first_run.subprocess, "run", fake_run)
    result = first_run.time_default_train()
    assert result["cold_compile_s"] == 4.0 and result["warm_compile_s"] == 0.0 and result["cold_s"] >= 0
    assert calls[0][1] == calls[1][1] and calls[0][0] != calls[1][0]  # same cache, separate run directories
    assert "4.0 s compiling" in first_run.format_first_run(result)


def test_the_machine_header_names_the_cpu_numba_compiles_for_and_its_vector_width():
    info = measure.machine_info()
    from glassnet.functional._numba import jit

    assert info["numba_target"] == jit.describe_target()
    report = {"threads": 1, "steps": 1, "warmup": 0, "notes": [], "clock": "cpu", "results": [],
              "machine": {"cpu": "x", "cores": 2, "usable_cores": 2, "python": "3", "numpy": "2", "glassnet_kernels": "k",
                          "blas": [], "env": {}, "numba_target": "sapphirerapids, 512-bit vectors (...)"},
              "sgemm": {"numpy": 50.0, "peak": 50.0, "n": 64, "repeats": 1}}
    assert "numba compiles for: sapphirerapids, 512-bit vectors (...)" in format_report(report).splitlines()
