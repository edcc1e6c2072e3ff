"""One comparison against PyTorch, shared by every parity test.

``assert_matches_torch(forward, backward, torch_fn, *inputs)`` runs a glassnet kernel pair and the
same function in PyTorch on the same inputs and upstream gradient, and asserts, for float64 and
then float32:

- the forward output and the gradient of every input agree with PyTorch's autograd
  (relative error <= 1e-9 in float64, <= 1e-4 in float32, relative to the array's largest value;
  an absolute floor of a few ulps of 1 (1e-14 / 1e-5) keeps arrays that are all ~0, such as
  tanh'(30), from comparing rounding noise: inputs and upstream gradients are O(1));
- float32 in gives float32 out, forward and backward (no silent float64);
- backward leaves ``dout`` and the inputs untouched, and running it a second time on the same
  cache gives the same gradients (it did not edit what it cached);
- nothing overflows, divides by zero or goes invalid (numpy raises inside the kernels; BLAS
  products' invalid flags are counted instead, see ``strict_floats``).

glassnet has two implementations of the kernels (the NumPy reference and the compiled numba
twins); both helpers check each of them.

``assert_loss_matches_torch`` does the same for ``(loss, dscores)`` losses and
``assert_module_matches_torch`` for modules: forward, input gradient, every parameter gradient
(by PyTorch's parameter names; Linear weights transposed) and every buffer after each step.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from functools import reduce

import numpy as np
import torch
from hypothesis import strategies as st

from glassnet import backend
from glassnet.nn import Linear

from glassnet import kernels
from glassnet.functional._numba import CompiledCache

KERNEL_IMPLEMENTATIONS = ("numpy", "numba")
"""The kernel implementations under test: the NumPy reference and the compiled (numba) twins. numba is
a test dependency: without it every parity test fails instead of quietly checking one of the two."""


def kernels_used(name):
    """Context manager running a block with kernel implementation ``name`` (one of KERNEL_IMPLEMENTATIONS)."""
    return kernels.using(name)

def is_compiled(cache):
    """True when a forward ran the compiled twin (its cache is a CompiledCache)."""
    return isinstance(cache, CompiledCache)


RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}
ATOL = {np.dtype(np.float64): 1e-14, np.dtype(np.float32): 1e-5}
DTYPES = (np.dtype(np.float64), np.dtype(np.float32))

seeds = st.integers(0, 2**32 - 1)
"""Hypothesis strategy for the seed the values of a drawn shape come from."""


def randn(seed, *shape, dtype=np.float64):
    """Standard-normal array of ``shape`` from ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def prod(shape):
    return int(reduce(lambda a, b: a * b, shape, 1))


def nonfinite_positions_differ(actual, expected):
    """A message if NaN, +Inf and -Inf are not at the same positions in both arrays, else None."""
    for name, where in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        a, e = where(actual), where(expected)
        if not np.array_equal(a, e):
            i = tuple(int(k) for k in np.argwhere(a != e)[0])
            return f"{name} at index {i}: {'glassnet' if a[i] else 'PyTorch'} has it, the other has {actual[i]!r} / {expected[i]!r}"
    return None


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max |expected| over the finite entries: the largest error relative to
    the array's scale; inf when NaN or Inf are not at the same positions (see assert_close)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if nonfinite_positions_differ(actual, expected):
        return float("inf")
    finite = np.isfinite(expected)
    a, e = actual[finite], expected[finite]
    scale = np.max(np.abs(e)) if e.size else 0.0
    diff = np.max(np.abs(a - e)) if e.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


def assert_close(actual, expected, rtol, what, atol=0.0):
    """``actual`` (glassnet) has ``expected``'s (PyTorch's) shape, NaN and +-Inf at the same positions,
    and agrees on the finite entries to ``rtol`` relative error (or differs by at most ``atol`` there)."""
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    actual = backend.to_numpy(actual)
    assert np.shape(actual) == np.shape(expected), f"{what}: shape {np.shape(actual)}, PyTorch {np.shape(expected)}"
    actual64, expected64 = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    differ = nonfinite_positions_differ(actual64, expected64)
    assert differ is None, f"{what}: {differ}"
    err = relative_error(actual64, expected64)
    if err > rtol:
        finite = np.isfinite(expected64)
        diff = float(np.max(np.abs(actual64[finite] - expected64[finite])))
        assert diff <= atol, f"{what}: relative error {err:.3g} > {rtol:g} (max difference {diff:.3g}) against PyTorch"


class _RaiseFloatingPointErrors:
    """numpy's error-log target inside :func:`strict_floats`: raises FloatingPointError at once for
    every flag except an invalid flag left by ``matmul``, which it counts in ``spurious`` instead.

    Why matmul's invalid flag is not trusted: a product of finite numbers cannot be invalid (0 * inf
    and inf - inf need an infinite operand or an overflow, and overflow still raises), yet OpenBLAS
    has left the flag set after small products of finite arrays - CI on 2026-12-05, the grouped
    conv1d filter gradient (a row vector times a 5 x 2 matrix, both kernel implementations), not
    reproduced in any other process; numpy/numpy#13173 and OpenMathLib/OpenBLAS#1924 report
    earlier such flags. Whether a product went wrong is still checked: every result is compared
    with PyTorch's, non-finite positions included. The count is printed at the end of the run.
    """

    spurious = 0

    def write(self, message):
        message = message.removeprefix("Warning: ").strip()
        if message == "invalid value encountered in matmul":
            type(self).spurious += 1
            return
        raise FloatingPointError(message)


@contextmanager
def strict_floats():
    """Overflow, division by zero, invalid operations and any warning raise (underflow to 0 is exact;
    an invalid flag out of a BLAS product is counted, not raised: see :class:`_RaiseFloatingPointErrors`)."""
    with np.errstate(all="log", under="ignore", call=_RaiseFloatingPointErrors()), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def spurious_blas_flags():
    """How many BLAS products have set the invalid flag inside :func:`strict_floats` in this run."""
    return _RaiseFloatingPointErrors.spurious


def _as_tuple(grads):
    return grads if isinstance(grads, tuple) else (grads,)


def _assert_dtype(a, dtype, what):
    assert np.asarray(a).dtype == dtype, f"{what}: dtype {np.asarray(a).dtype}, expected {dtype}"


def assert_matches_torch(forward, backward, torch_fn, *inputs, seed=0):
    """A kernel pair equals PyTorch: forward and the gradient of each input, float64 and float32.

    forward(*inputs) -> (out, cache); backward(dout, cache) -> the gradients of the first k inputs;
    torch_fn(*tensors) -> the same output in PyTorch (bind extra arguments with functools.partial).
    """
    for kernels in KERNEL_IMPLEMENTATIONS:
        with kernels_used(kernels):
            _assert_kernel_matches_torch(forward, backward, torch_fn, inputs, seed, kernels)


def _assert_kernel_matches_torch(forward, backward, torch_fn, inputs, seed, kernels):
    for dtype in DTYPES:
        rtol, atol, tag = RTOL[dtype], ATOL[dtype], f"{dtype.name} ({kernels} kernels)"
        xs = [np.array(a, dtype=dtype) for a in inputs]
        originals = [a.copy() for a in xs]
        with strict_floats():
            out, cache = forward(*xs)
        dout = np.random.default_rng(seed).standard_normal(np.shape(out)).astype(dtype)
        dout_before = dout.copy()
        with strict_floats():
            grads = _as_tuple(backward(dout, cache))
            grads_again = _as_tuple(backward(dout, cache))

        _assert_dtype(out, dtype, f"{tag} forward output")
        np.testing.assert_array_equal(dout, dout_before, err_msg=f"{tag}: backward modified dout")
        for i, (a, a0) in enumerate(zip(xs, originals)):
            np.testing.assert_array_equal(a, a0, err_msg=f"{tag}: forward/backward modified input {i}")
        for i, (g, g2) in enumerate(zip(grads, grads_again)):
            np.testing.assert_array_equal(g, g2, err_msg=f"{tag}: a second backward on the same cache differs (input {i})")

        ts = [torch.tensor(a, requires_grad=True) for a in xs]
        t_out = torch_fn(*ts)
        t_out.backward(torch.tensor(dout))
        assert_close(out, t_out, rtol, f"{tag} forward", atol)
        assert len(grads) <= len(xs)
        for i, g in enumerate(grads):
            _assert_dtype(g, dtype, f"{tag} gradient of input {i}")
            assert_close(g, ts[i].grad, rtol, f"{tag} gradient of input {i}", atol)


def assert_loss_matches_torch(loss_fn, torch_loss, scores, target):
    """A ``(loss, dscores) = loss_fn(scores, target)`` loss equals PyTorch's loss and input gradient.

    Float targets follow the scores' dtype; integer labels stay int64. Checked in float64 and float32.
    """
    for dtype in DTYPES:
        rtol, atol, tag = RTOL[dtype], ATOL[dtype], dtype.name
        s = np.array(scores, dtype=dtype)
        t = np.array(target)
        t = t.astype(dtype) if t.dtype.kind == "f" else t.astype(np.int64)
        s0, t0 = s.copy(), t.copy()
        with strict_floats():
            loss, dscores = loss_fn(s, t)
        _assert_dtype(loss, dtype, f"{tag} loss")
        _assert_dtype(dscores, dtype, f"{tag} dscores")
        np.testing.assert_array_equal(s, s0, err_msg=f"{tag}: the loss modified its input")
        np.testing.assert_array_equal(t, t0, err_msg=f"{tag}: the loss modified its target")

        ts = torch.tensor(s, requires_grad=True)
        t_loss = torch_loss(ts, torch.tensor(t))
        t_loss.backward()
        assert_close(loss, t_loss, rtol, f"{tag} loss", atol)
        assert_close(dscores, ts.grad, rtol, f"{tag} dscores", atol)


def linear_weight_names(module):
    """State-dict names of Linear weights, stored (in, out): the transpose of PyTorch's (out, in)."""
    return {f"{name}.weight" if name else "weight" for name, m in module.named_modules() if isinstance(m, Linear)}


def copy_to_torch(module, torch_module):
    """Load glassnet's parameters and buffers into ``torch_module`` (same names; Linear weights transposed)."""
    transposed = linear_weight_names(module)
    state = {k: torch.tensor(np.asarray(v).T if k in transposed else np.asarray(v)) for k, v in module.state_dict().items()}
    missing, unexpected = torch_module.load_state_dict(state, strict=False)
    assert not unexpected, f"PyTorch module has no {unexpected}"
    assert all(k.endswith("num_batches_tracked") for k in missing), f"glassnet module lacks {missing}"


def assert_module_matches_torch(make_module, torch_module, *batches, train=True, seed=0):
    """A glassnet module equals a PyTorch module with the same weights, step after step.

    make_module() builds the glassnet module (called once per dtype, under that default dtype); its
    weights are copied into ``torch_module`` (a torch.nn.Module, or a function that builds a fresh
    one per dtype). Each batch runs forward and backward with a random upstream gradient in both,
    comparing the output, the input gradient, every parameter gradient and every buffer (BN
    running statistics). ``train`` is one mode or one mode per batch.
    """
    modes = [train] * len(batches) if isinstance(train, bool) else list(train)
    assert len(modes) == len(batches)
    for kernels in KERNEL_IMPLEMENTATIONS:
        with kernels_used(kernels):
            _assert_module_matches_torch(make_module, torch_module, batches, modes, seed, kernels)


def _assert_module_matches_torch(make_module, torch_module, batches, modes, seed, kernels):
    for dtype in DTYPES:
        rtol, atol, tag = RTOL[dtype], ATOL[dtype], f"{dtype.name} ({kernels} kernels)"
        with backend.default_dtype(dtype):
            module = make_module()
        reference = torch_module if isinstance(torch_module, torch.nn.Module) else torch_module()
        reference.to({np.float64: torch.float64, np.float32: torch.float32}[dtype.type])
        copy_to_torch(module, reference)
        transposed = linear_weight_names(module)
        rng = np.random.default_rng(seed)
        for step, (x, mode) in enumerate(zip(batches, modes)):
            where = f"{tag} step {step} ({'train' if mode else 'eval'})"
            module.train(mode)
            reference.train(mode)
            x = np.array(x, dtype=dtype)
            x0 = x.copy()
            module.zero_grad()
            reference.zero_grad()
            with strict_floats():
                out = module(x)
            dout = rng.standard_normal(out.shape).astype(dtype)
            dout0 = dout.copy()
            with strict_floats():
                dx = module.backward(dout)
            _assert_dtype(out, dtype, f"{where} output")
            _assert_dtype(dx, dtype, f"{where} input gradient")
            np.testing.assert_array_equal(x, x0, err_msg=f"{where}: the module modified its input")
            np.testing.assert_array_equal(dout, dout0, err_msg=f"{where}: backward modified dout")

            tx = torch.tensor(x, requires_grad=True)
            t_out = reference(tx)
            t_out.backward(torch.tensor(dout))
            assert_close(out, t_out, rtol, f"{where} forward", atol)
            assert_close(dx, tx.grad, rtol, f"{where} input gradient", atol)
            t_params = dict(reference.named_parameters())
            assert sorted(t_params) == sorted(n for n, _ in module.named_parameters())
            for name, p in module.named_parameters():
                t_grad = t_params[name].grad
                t_grad = t_grad.T if name in transposed else t_grad
                _assert_dtype(p.grad, dtype, f"{where} gradient of {name}")
                assert_close(p.grad, t_grad, rtol, f"{where} gradient of {name}", atol)
            t_buffers = dict(reference.named_buffers())
            for name, b in module.named_buffers():
                _assert_dtype(b, dtype, f"{where} buffer {name}")
                assert_close(b, t_buffers[name], rtol, f"{where} buffer {name}", atol)
