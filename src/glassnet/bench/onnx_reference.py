"""onnxruntime as the second reference for inference: the glassnet model exported by
:func:`glassnet.io.to_onnx`, run by onnxruntime's CPU provider with the same number of threads.

Users who deploy compare with onnxruntime rather than with PyTorch eager, so inference workloads are
timed against both. onnx and onnxruntime are optional (the ``onnx`` extra); without them the
benchmark notes it and times PyTorch alone.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from ..io import to_onnx


def import_onnxruntime():
    """The onnxruntime module, or None if it (or onnx, needed for the export) is not installed."""
    try:
        import onnx  # noqa: F401, PLC0415 - optional, for the export
        import onnxruntime  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return onnxruntime


class OrtModel:
    """An onnxruntime session of ``model`` exported to ONNX (eval mode), on ``threads`` intra-op threads."""

    def __init__(self, ort, model, input_shape, threads, profile=False):
        self._dir = tempfile.TemporaryDirectory(prefix="glassnet-bench-")
        path = os.path.join(self._dir.name, "model.onnx")
        was_training = model.training
        to_onnx(model.eval(), path, input_shape=tuple(input_shape))
        model.train(was_training)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if profile:
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(self._dir.name, "profile")
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x):
        return self.session.run(None, {self.input_name: x})[0]

    def node_times(self):
        """Ends profiling: [(node name and op type, [seconds of each run])] in graph order."""
        with open(self.session.end_profiling()) as f:
            events = json.load(f)
        times = {}
        for e in events:
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
                key = f"{e['name'][: -len('_kernel_time')]} ({e.get('args', {}).get('op_name', '?')})"
                times.setdefault(key, []).append(e["dur"] * 1e-6)
        return list(times.items())


def profile_onnxruntime(ort, model, workload, x, repeats, threads):
    """Median seconds of each onnxruntime node over ``repeats`` runs (after one untimed run)."""
    runner = OrtModel(ort, model, workload.input_shape, threads, profile=True)
    for _ in range(repeats + 1):
        runner(x)
    return [(name, float(np.median(ts[1:] if len(ts) > 1 else ts)), None) for name, ts in runner.node_times()]
