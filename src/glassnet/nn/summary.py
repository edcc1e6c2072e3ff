"""A readable table of a model: each layer, its output shape and its parameter count."""
from __future__ import annotations

from .. import backend
from .module import Module, Sequential
from .residual import Residual


def _leaf_rows(module: Module, x, rows):
    """Run ``x`` through ``module``, appending (name, layer, output shape, params) for every leaf
    (a Residual: the rows of its body, of its shortcut, then one row for the sum)."""
    if isinstance(module, Sequential):
        for child in module:
            x = _leaf_rows(child, x, rows)
        return x
    if isinstance(module, Residual):
        out = _leaf_rows(module.body, x, rows)
        if module.shortcut is not None:
            out = out + _leaf_rows(module.shortcut, x, rows)
        else:
            out = out + x
        rows.append((module._name or "-", "Residual sum: body + " + ("shortcut" if module.shortcut is not None
                                                                    else "input"), tuple(out.shape[1:]), 0))
        return out
    out = module.forward(x)
    rows.append((module._name or "-", module.describe().split(" ", 2)[-1] if module._name else repr(module),
                 tuple(out.shape[1:]), module.num_parameters()))
    return out


def summarize(model: Module, input_shape) -> str:
    """Table of layers, output shapes (batch axis omitted) and parameter counts for ``input_shape``."""
    xp = backend.get_xp()
    was_training = model.training
    model.eval()
    try:
        rows = []
        _leaf_rows(model, xp.zeros((1, *input_shape), dtype=backend.get_default_dtype()), rows)
    finally:
        model.train(was_training)
    header = ("name", "layer", "output shape", "params")
    table = [header] + [(n, layer, str(shape), f"{p:,}") for n, layer, shape, p in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in table]
    rule = "-" * len(lines[0])
    total = model.num_parameters()
    return "\n".join([lines[0], rule, *lines[1:], rule, f"input {tuple(input_shape)}  total params {total:,}"])
