"""Checks printed beside each layer: a numerical gradient check on sampled entries, and PyTorch.

Numerical check of one layer with output gradient g: for f(v) = sum(layer(v) * g), the backward
gives df/dv_i (the layer's dx, or its dW for a parameter), and central differences give
(f(v + h e_i) - f(v - h e_i)) / 2h in float64. A few entries i are drawn at random; an entry where
the two one-sided slopes disagree sits on a kink (ReLU at 0, a max-pool tie), where the derivative
is not defined, and is skipped and counted instead. The result is the relative error
||analytic - numerical|| / (||analytic|| + ||numerical||) over the checked entries.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..diagnostics.gradcheck import relative_error
from ..optional import TORCH_INSTALL, require

SAMPLES = 4
"""Entries checked per array (input, weight, bias) of each layer."""


def _one_sided_agree(up, down, tol=1e-3):
    return abs(up - down) <= tol * (abs(up) + abs(down)) + 1e-6


def check_entries(f, array, analytic, rng, samples=SAMPLES, h=1e-6) -> dict:
    """Compare ``analytic`` (df/d array) with central differences of ``f()`` at sampled entries.

    ``array`` is perturbed in place and restored. Returns ``{"error", "entries", "kinks"}``
    (``error`` is None when no entry away from a kink was found).
    """
    base = f()
    candidates = rng.permutation(array.size)[: 8 * samples]
    got, expected, kinks = [], [], 0
    for flat in candidates:
        i = np.unravel_index(flat, array.shape)
        old = array[i]
        array[i] = old + h
        plus = f()
        array[i] = old - h
        minus = f()
        array[i] = old
        if not _one_sided_agree((plus - base) / h, (base - minus) / h):
            kinks += 1
            continue
        got.append(analytic[i])
        expected.append((plus - minus) / (2 * h))
        if len(got) == samples:
            break
    error = relative_error(np.array(got), np.array(expected)) if got else None
    return {"error": error, "entries": len(got), "kinks": kinks}


def check_layer(layer, x, output_grad, input_grad, param_grads, seed=0) -> dict:
    """The sampled numerical check of one layer's backward: {"input": ..., param name: ...}."""
    rng = np.random.default_rng(seed)

    def f():
        return float(np.sum(layer.forward(x) * output_grad))

    result = {"input": check_entries(f, x, input_grad, rng)}
    for name, p in layer.named_parameters():
        result[name] = check_entries(f, p.data, param_grads[name], rng)
    return result


def torch_differences(model64, fwd, back):
    """The largest |glassnet - torch autograd| for the same input, weights and loss, float64.

    Returns (per layer {"output", "output_grad", param name: max difference}, for dL/dx, for the loss).
    PyTorch is imported here only (MissingPackageError, saying how to install it, without it).
    """
    from ..io import to_torch  # noqa: PLC0415

    torch = require("torch", "the comparison with PyTorch autograd (--check-torch)", TORCH_INSTALL)

    tmodel = to_torch(model64).eval()
    modules = dict(tmodel.named_modules())
    captured = {}

    def hook(name):
        def keep(module, inputs, out):
            out.retain_grad()
            captured[name] = out
        return keep

    names = [name for name, _, _, _ in fwd.trace]
    handles = [modules[n].register_forward_hook(hook(n)) for n in names if n in modules]
    x = torch.tensor(fwd.x, dtype=torch.float64, requires_grad=True)
    try:
        out = tmodel(x)
    finally:
        for h in handles:
            h.remove()
    t = torch.tensor([back.target])
    loss = torch.nn.functional.nll_loss(torch.log(out), t) if fwd.probabilities else torch.nn.functional.cross_entropy(out, t)
    loss.backward()
    tparams = dict(tmodel.named_parameters())
    result = []
    for k, (name, layer, _, y) in enumerate(fwd.trace):
        diffs = {}
        if name in captured:
            diffs["output"] = float(np.max(np.abs(captured[name].detach().numpy() - y)))
            diffs["output_grad"] = float(np.max(np.abs(captured[name].grad.numpy() - back.output_grads[k])))
        for pname, g in back.param_grads[k].items():
            full = f"{name}.{pname}"
            if full in tparams:
                tg = tparams[full].grad.numpy()
                tg = tg.T if isinstance(layer, nn.Linear) and pname == "weight" else tg  # torch stores (out, in)
                diffs[pname] = float(np.max(np.abs(tg - g)))
        result.append(diffs)
    input_diff = float(np.max(np.abs(x.grad.numpy() - back.input_grad)))
    return result, input_diff, float(abs(loss.item() - back.loss))
