"""InferencePlan: a model's eval-mode forward pass, folded and fused once, run with reused buffers.

    plan = InferencePlan(model)        # folds BN, fuses conv + bias + ReLU + max pool (see fold.py)
    scores = plan(x)                   # = model.eval() forward on x, without caches

3x3 stride-1 convolutions run by Winograd's F(2x2, 3x3) (``functional/_numba/winograd.py``; a 2x2
max pool after one is taken inside its output transform); stride-1 convolutions that a 2x2 max pool
follows by kernel rows where ``kernel_rows.applies`` (LeNet-5's second: whole image rows in the
product, the kernel's columns as shifts of its outputs, ``functional/_numba/kernel_rows.py``); the
others as im2col + BLAS.
For each input shape the plan prepares its steps once (output buffers, column scratch per thread);
later calls of that shape allocate nothing but the returned copy of the scores. With the compiled
kernels and several threads, the batch is split into one share of images per thread and each thread
runs the whole network on its share: one hand-off per forward pass, not one per layer, with every
BLAS product on one thread (also with a single share, as ``kernels.set_num_threads`` promises for
convolution products). Without numba (or with ``glassnet.kernels`` set to NumPy) the steps run the
reference kernels with the folded weights. A plan runs on NumPy arrays (the CPU); on CuPy use the model's own forward.

A plan is a snapshot: it copies the weights when built. Build a new one after changing the model.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import functional as F
from .. import kernels
from ..functional._numba.threads import blas_one_thread, parallel
from ..functional._windows import output_size, pair
from . import fold as ops

WIDE_MAX = 1.25
"""A stride-1 convolution whose input is at most this many times as wide as its output gathers its
columns as if the output were as wide as the input (``conv_relu_pool``'s ``wide``): one contiguous
run per tap, for a product W / Wo times as large. Measured per image (one thread, fused ReLU):
3x3 without padding on 32x32 (16 -> 32 channels) 1.07x as fast, on 16x16 with a 2x2 pool 1.12x,
5x5 with padding 1 on 32x32 (3 -> 16) 1.39x, without padding on 28x28 (8 -> 16) 1.03x; LeNet-5's
5x5 on 14x14 (W / Wo = 1.4) 0.99x, 7x7 on 12x12 (W / Wo = 2) 0.78x. Outputs exactly as wide as
their input (padding (k - 1) / 2) always gather this way."""


class _Step:
    """One fused op prepared for one input shape. ``call(x, lo, hi, share)`` is the compiled call
    (function, arguments) that writes rows lo:hi of ``out`` from the input ``x``, with the scratch
    buffers of thread share ``share``. A ``view`` step computes nothing: its output is a view of
    its input. ``output(x)`` is where the result is: ``out``, or that view."""

    out = None
    view = False

    def output(self, x):
        return self.out

    def run(self, x, lo, hi, share):
        """Compute rows lo:hi and return the step's output."""
        if not self.view:
            function, arguments = self.call(x, lo, hi, share)
            function(*arguments)
        return self.output(x)

    def describe(self):
        return type(self).__name__


class _ConvStep(_Step):
    wr = None  # Wr (kw*F, C*kh) where the step runs by kernel rows (``kernel_rows.applies``)

    def __init__(self, op, in_shape, dtype, shares):
        from ..functional._numba import kernel_rows, winograd  # noqa: PLC0415 - imports numba: only for a compiled plan

        n, c, h, w = in_shape
        f, cw, kh, kw = op.weight.shape
        if c != cw:
            raise ValueError(f"InferencePlan: layer {op.layers[0]} expects {cw} input channels, got input of shape {in_shape}")
        (sh, sw), (ph, pw) = pair(op.stride), pair(op.padding)
        ho, wo = output_size("conv", h, kh, sh, ph), output_size("conv", w, kw, sw, pw)
        self.op, self.geometry = op, (kh, kw, sh, sw, ph, pw)
        if op.pool:
            (pkh, pkw), (psh, psw) = pair(op.pool[0]), pair(op.pool[1])
            self.pool = np.array([pkh, pkw, psh, psw], np.int64)
            out_hw = (output_size("max_pool", ho, pkh, psh, 0), output_size("max_pool", wo, pkw, psw, 0))
        else:
            self.pool, out_hw = np.zeros(4, np.int64), (ho, wo)
        # a 2x2 max pool of stride 2: Winograd takes it inside its output transform, kernel rows from their sums
        self.fused_pool = tuple(self.pool) == (2, 2, 2, 2)
        self.winograd = winograd.applies((kh, kw), (sh, sw), (1, 1), 1, (ho, wo), c)
        if self.winograd:
            last = winograd.channels_last(wo, c)
            self.u = winograd.transform_filters(op.weight, dtype, last)
            self.bias = np.ascontiguousarray(op.bias, dtype)
            self.group = winograd.group_size(ho, wo) if self.fused_pool or not op.pool else 1
            self.scratch = [(winograd.scratch(c, f, ho, wo, self.group, dtype, last), np.empty((1, f, ho, wo), dtype))
                            for _ in range(shares)]
            self.kernel = _compiled().winograd_conv_relu_pool
        elif self.fused_pool and kernel_rows.applies(in_shape, op.weight.shape, (sh, sw), (ph, pw), 1, 1,
                                                       np.dtype(dtype).itemsize):
            self.wr = kernel_rows.rows_weight(op.weight, dtype)
            self.bias = np.ascontiguousarray(op.bias, dtype)
            self.scratch = [kernel_rows.scratch(c, f, kh, kw, 2 * out_hw[0], w + 2 * pw, dtype)  # the rows pooled
                            for _ in range(shares)]
            self.kernel = _compiled().conv_rows_relu_pool
        else:
            self.wide = (sh, sw) == (1, 1) and wo <= w <= WIDE_MAX * wo and ph < kh and pw < kw  # conv_relu_pool
            wy = w if self.wide else wo
            self.wb = np.empty((f, c * kh * kw + 1), dtype)
            self.wb[:, :-1] = op.weight.reshape(f, -1)
            self.wb[:, -1] = op.bias
            self.scratch = [(np.empty((f, ho, wy), dtype), np.empty((1, c * kh * kw + 1, ho * wy), dtype))
                            for _ in range(shares)]
            self.kernel = _compiled().conv_relu_pool
        self.out = np.empty((n, f, *out_hw), dtype)

    def call(self, x, lo, hi, share):
        if self.winograd:
            buffers, y = self.scratch[share]
            return self.kernel, (x, self.u, self.bias, *self.geometry[4:], self.op.relu, self.pool, self.fused_pool,
                                 self.group, buffers, y, self.out, lo, hi)
        if self.wr is not None:
            r, o, z = self.scratch[share]
            return self.kernel, (x, self.wr, self.bias, *self.geometry[:2], *self.geometry[4:], self.op.relu, r, o, z,
                                 self.out, lo, hi)
        y, cols = self.scratch[share]
        return self.kernel, (x, self.wb, *self.geometry, self.wide, self.op.relu, self.pool, y, cols, self.out, lo, hi)

    @staticmethod
    def reference(op, x):
        out = F.conv_forward(x, op.weight, op.bias, op.stride, op.padding)[0]
        if op.pool:
            out = F.max_pool_forward(out, *op.pool)[0]
        return F.relu_forward(out)[0] if op.relu else out

    def describe(self):
        parts = ["conv+bias"] + (["relu"] if self.op.relu else []) + (["maxpool"] if self.op.pool else [])
        return "+".join(parts) + (" (winograd)" if self.winograd else " (kernel rows)" if self.wr is not None else "")


class _LinearStep(_Step):
    def __init__(self, op, in_shape, dtype, shares):
        d = int(np.prod(in_shape[1:]))
        if d != op.weight.shape[0]:
            raise ValueError(f"InferencePlan: layer {op.layers[0]} expects {op.weight.shape[0]} features, "
                             f"got input of shape {in_shape} ({d} per sample)")
        self.op, self.kernel = op, _compiled().linear_relu
        self.out = np.empty((in_shape[0], op.weight.shape[1]), dtype)

    def call(self, x, lo, hi, share):
        return self.kernel, (x.reshape(x.shape[0], -1), self.op.weight, self.op.bias, self.op.relu, self.out, lo, hi)

    @staticmethod
    def reference(op, x):
        out = F.affine_forward(x, op.weight, op.bias)[0]
        return F.relu_forward(out)[0] if op.relu else out

    def describe(self):
        return "linear+bias" + ("+relu" if self.op.relu else "")


class _ChannelAffineStep(_Step):
    def __init__(self, op, in_shape, dtype, shares):
        if len(in_shape) < 2 or in_shape[1] != op.scale.size:
            raise ValueError(f"InferencePlan: layer {op.layers[0]} expects {op.scale.size} channels, got input of shape {in_shape}")
        self.op, self.kernel = op, _compiled().channel_affine
        self.out = np.empty(in_shape, dtype)

    def call(self, x, lo, hi, share):
        n, c = x.shape[0], x.shape[1]
        return self.kernel, (x.reshape(n, c, -1), self.op.scale, self.op.shift, self.op.relu, self.out.reshape(n, c, -1),
                             lo, hi)

    @staticmethod
    def reference(op, x):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        out = x * op.scale.reshape(shape) + op.shift.reshape(shape)
        return F.relu_forward(out)[0] if op.relu else out

    def describe(self):
        return "batchnorm" + ("+relu" if self.op.relu else "")


class _FlattenStep(_Step):
    view = True

    def __init__(self, op, in_shape, dtype, shares):
        self.out = np.empty((in_shape[0], int(np.prod(in_shape[1:]))), dtype)  # shape only: the output is a view

    def output(self, x):
        return x.reshape(x.shape[0], -1)

    @staticmethod
    def reference(op, x):
        return x.reshape(x.shape[0], -1)

    def describe(self):
        return "flatten (a view)"


class _GlobalAvgPoolStep(_Step):
    def __init__(self, op, in_shape, dtype, shares):
        if len(in_shape) != 4:
            raise ValueError(f"InferencePlan: layer {op.layers[0]} (GlobalAvgPool2d) expects (N, C, H, W), got {in_shape}")
        self.kernel = _compiled().plane_means
        self.out = np.empty(in_shape[:2], dtype)

    def call(self, x, lo, hi, share):
        c = x.shape[1]
        return self.kernel, (x.reshape(x.shape[0] * c, -1), self.out.reshape(-1), lo * c, hi * c)

    @staticmethod
    def reference(op, x):
        return F.global_avg_pool_forward(x)[0]

    def describe(self):
        return "global average pool"


class _LayerStep(_Step):
    """A layer without a fused form, run by its own forward (single share: its kernels thread themselves)."""

    def __init__(self, op, in_shape, dtype, shares):
        self.op = op
        probe = self.reference(op, np.zeros((1, *in_shape[1:]), dtype))
        self.out = np.empty((in_shape[0], *probe.shape[1:]), probe.dtype)

    def call(self, x, lo, hi, share):
        return self._forward, (x, lo, hi)

    def _forward(self, x, lo, hi):
        self.out[lo:hi] = self.reference(self.op, x[lo:hi])

    @staticmethod
    def reference(op, x):
        was_training = op.module.training
        op.module.eval()
        try:
            with op.module.no_grad():
                return op.module.forward(x)
        finally:
            op.module.train(was_training)

    def describe(self):
        return self.op.module.describe()


_STEPS = {ops.Conv: _ConvStep, ops.Linear: _LinearStep, ops.ChannelAffine: _ChannelAffineStep, ops.Flatten: _FlattenStep,
          ops.GlobalAvgPool: _GlobalAvgPoolStep, ops.Layer: _LayerStep}


def _compiled():
    """The compiled kernels' module: imported (with numba) when a step is prepared, i.e. only for a
    compiled plan; each step keeps its kernel, so running it imports nothing."""
    from . import _compiled as mod  # noqa: PLC0415

    return mod


class _Program:
    """The steps of one input shape and dtype, and how the batch is split between threads."""

    def __init__(self, fused_ops, shape, dtype, threads):
        n = shape[0]
        self.layer_steps = any(isinstance(op, ops.Layer) for op in fused_ops)
        shares = 1 if self.layer_steps else max(1, min(threads, n))
        bounds = np.linspace(0, n, shares + 1).astype(np.int64)
        self.shares = [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        self.steps, in_shape = [], tuple(shape)
        for op in fused_ops:
            step = _STEPS[type(op)](op, in_shape, dtype, shares)
            self.steps.append(step)
            in_shape = step.out.shape
        # Up to the first step that computes, the steps read the caller's array (views of it before
        # that); every later step reads a buffer of the program, so its call is bound once per share
        # (at batch 1, building the calls was a tenth of a LeNet-5 forward pass).
        first = next((i for i, step in enumerate(self.steps) if not step.view), len(self.steps))
        self.leading, later = self.steps[: first + 1], self.steps[first + 1:]
        inputs, h = [], self.steps[first].out if later else None
        for step in later:
            inputs.append(h)
            h = step.output(h)
        self.result = h  # None without later steps: the leading steps' output is the caller's array's view
        self.bound = [[step.call(x, lo, hi, share) for step, x in zip(later, inputs) if not step.view]
                      for share, (lo, hi) in enumerate(self.shares)]

    def run_share(self, x, share):
        """Run the images of one share through every step; returns the output (rows of other
        shares are written by their own calls)."""
        lo, hi = self.shares[share]
        for step in self.leading:
            x = step.run(x, lo, hi, share)
        for function, arguments in self.bound[share]:
            function(*arguments)
        return x if self.result is None else self.result


MAX_PROGRAMS = 8
"""(input shape, thread count) pairs a plan keeps prepared (with their buffers) at once; a ninth
drops the oldest."""


class InferencePlan:
    """The eval-mode forward pass of ``model`` with batch norm folded and conv + bias + ReLU + max pool
    fused; ``plan(x)`` equals ``model.eval()`` then ``model(x)`` (within rounding: 1e-9 in float64,
    1e-5 in float32), keeps no caches and reuses its buffers between calls of the same shape.

    ``model`` is a Sequential (or a single layer); layers without a fused form (Residual, Softmax,
    ...) run their own forward. The model itself is not changed (not even put in eval mode).
    Inputs are cast to the dtype of the model's parameters (for a model without any, the default
    dtype when the plan is built). A plan's buffers are its own: call one plan from one thread at a
    time (it splits the batch between glassnet's threads itself); the returned scores are a fresh array.
    """

    def __init__(self, model):
        self.ops = ops.fold(model)
        self.dtype = next((p.data.dtype for p in model.parameters()), backend.get_default_dtype())  # none: as new layers
        self._programs = {}

    def __call__(self, x):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"InferencePlan runs on NumPy arrays, got {type(x).__module__}.{type(x).__name__} "
                            "(on the GPU use the model itself: with model.no_grad(): model(x))")
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if not kernels.compiled_for(x):  # kernels set to NumPy, or numba unavailable
            return self._reference(x)
        program = self.program(x.shape)
        with blas_one_thread():  # glassnet's threads split the batch; each product runs on one of them
            if len(program.shares) == 1:
                return program.run_share(x, 0).copy()
            outs = parallel(len(program.shares), lambda lo, hi: [program.run_share(x, s) for s in range(lo, hi)])
        return outs[0][0].copy()  # every share wrote its rows of the same output buffer

    def program(self, shape):
        """The prepared steps for inputs of ``shape`` and the current number of kernel threads (built
        on first use; a later ``kernels.set_num_threads`` gets a program with as many shares)."""
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"InferencePlan: expected a batch of inputs (N, ...), got shape {shape}")
        key = (shape, kernels.get_num_threads())
        if key not in self._programs:
            if len(self._programs) >= MAX_PROGRAMS:  # drop the oldest program's buffers
                self._programs.pop(next(iter(self._programs)))
            self._programs[key] = _Program(self.ops, shape, self.dtype, key[1])
        return self._programs[key]

    def profile(self, x, repeats=5, clock=None):
        """Median seconds of each step on ``x`` over ``repeats`` runs (after one untimed run), all
        images in the calling thread: [(description, seconds)] ("layers 0-2 conv+bias+relu+maxpool").
        ``clock`` is a function returning seconds (default ``time.perf_counter``)."""
        import time  # noqa: PLC0415

        now = clock or time.perf_counter
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if not kernels.compiled_for(x):
            raise RuntimeError("InferencePlan.profile: needs the compiled kernels (numba) on NumPy arrays")
        program = self.program(x.shape)
        times = [[] for _ in program.steps]
        with blas_one_thread():
            for _ in range(repeats + 1):
                h = x
                for step, ts in zip(program.steps, times):
                    t0 = now()
                    h = step.run(h, 0, x.shape[0], 0)
                    ts.append(now() - t0)
        return [(f"layers {_span(op.layers)} {step.describe()}", float(np.median(ts[1:])))
                for op, step, ts in zip(self.ops, program.steps, times)]

    def _reference(self, x):
        """The same fused ops through the NumPy reference kernels."""
        h = x
        for op in self.ops:
            h = _STEPS[type(op)].reference(op, h)
        return h

    def describe(self):
        """One line per fused op: which model layers it replaces and what it computes."""
        return "\n".join(f"layers {_span(op.layers)}: {type(op).__name__}" for op in self.ops)


def _span(layers):
    return f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else str(layers[0])

