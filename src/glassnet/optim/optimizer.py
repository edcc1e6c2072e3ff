"""The Optimizer base class: a list of Parameters, a step count, per-parameter state arrays.

An optimizer reads ``p.grad`` and updates ``p.data`` *in place* (modules keep their references
to the arrays), for every parameter it was given. Subclasses implement :meth:`Optimizer._update`
for one parameter; the base class does the bookkeeping:

* ``lr`` is a plain attribute, read at every :meth:`step` (schedules change it);
* ``state[i]`` is a dict of arrays for parameter ``i`` (momentum buffers, moment estimates),
  created lazily at the first step on the parameter's backend and in its dtype;
* :meth:`state_dict` / :meth:`load_state_dict` use a flat, pickle-free form::

      {"arrays":  {"0.exp_avg": ndarray, "0.exp_avg_sq": ndarray, "1.exp_avg": ...},
       "scalars": {"optimizer": "Adam", "num_params": 2, "step": 10, "lr": 0.001, ...}}

  ``arrays`` holds host (NumPy) copies that a checkpoint writer can put in a safetensors file;
  ``scalars`` holds the hyper-parameters and the step count and is JSON-serialisable.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend, kernels


class Optimizer:
    """Base class: ``step()`` updates every parameter from its gradient; ``zero_grad()`` clears them.

    Subclasses list their constructor's hyper-parameters in ``hyper_names`` and define
    ``_check_hyper(**hyper) -> dict`` (validated, normalised hyper-parameters),
    ``_state_names(hyper) -> tuple`` (names of the per-parameter state arrays) and
    ``_update(w, g, state, xp)`` (one parameter's update, in place on ``w``).
    """

    hyper_names: tuple = ("lr",)

    def __init__(self, params, **hyper):
        self.params = _param_list(params, type(self).__name__)
        self._set_hyper(self._check_hyper(**hyper))
        self.state = [{} for _ in self.params]
        self.step_count = 0

    # ---------------------------------------------------------------- to override
    @classmethod
    def _check_hyper(cls, **hyper) -> dict:
        raise NotImplementedError(f"{cls.__name__} does not define _check_hyper")

    @staticmethod
    def _state_names(hyper: dict) -> tuple:
        return ()

    def _update(self, w, g, state: dict, xp):
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ---------------------------------------------------------------- the public API
    def step(self):
        """Apply one update to every parameter, in place on ``p.data``, from ``p.grad``.

        With the compiled kernels on (``glassnet.kernels``), NumPy parameters of the reference
        optimizers are updated by their twins in ``optim/_numba.py``: the same arithmetic, one pass.
        """
        self.step_count += 1
        compiled = _compiled_update(self)
        for p, state in zip(self.params, self.state):
            w, g = p.data, p.grad
            if tuple(g.shape) != tuple(w.shape):
                raise ValueError(
                    f"{type(self).__name__}.step: gradient shape {tuple(g.shape)} does not match "
                    f"parameter shape {tuple(w.shape)}"
                )
            if g.dtype != w.dtype:  # keep the parameter's dtype in every temporary
                g = g.astype(w.dtype)
            if compiled is None or not compiled(w, g, state):
                self._update(w, g, state, backend.array_module(w))

    def zero_grad(self):
        """Set every parameter's gradient to zero, in place."""
        for p in self.params:
            p.grad[...] = 0

    def hyperparameters(self) -> dict:
        """The hyper-parameters by name (``lr`` included), as JSON-able Python scalars."""
        return {k: _jsonable(getattr(self, k)) for k in self.hyper_names}

    def state_dict(self) -> dict:
        """``{"arrays": {"<index>.<name>": ndarray}, "scalars": {...}}``: host copies, no pickle."""
        arrays = {}
        for i, state in enumerate(self.state):
            for name, a in state.items():
                arrays[f"{i}.{name}"] = np.array(backend.to_numpy(a), copy=True)
        scalars = {
            "optimizer": type(self).__name__,
            "num_params": len(self.params),
            "step": self.step_count,
            **self.hyperparameters(),
        }
        return {"arrays": arrays, "scalars": scalars}

    def load_state_dict(self, state_dict: dict):
        """Restore hyper-parameters, step count and state arrays saved by :meth:`state_dict`.

        Arrays are copied onto each parameter's backend in its dtype. Everything is checked before
        anything changes; a mismatch (another optimizer class, another number of parameters, a
        missing, unknown or mis-shaped array) raises ValueError saying what differs.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"arrays", "scalars"}:
            raise ValueError(f"{where}: expected a dict with keys 'arrays' and 'scalars'")
        arrays, scalars = state_dict["arrays"], state_dict["scalars"]
        saved_by = scalars.get("optimizer")
        if saved_by != name:
            raise ValueError(f"{where}: the state was saved by optimizer {saved_by!r}, not {name!r}")
        n = len(self.params)
        if scalars.get("num_params") != n:
            raise ValueError(
                f"{where}: the state is for {scalars.get('num_params')} parameters, "
                f"this optimizer has {n}"
            )
        step = scalars.get("step")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"{where}: 'step' must be a non-negative integer, got {step!r}")
        missing_hyper = [k for k in self.hyper_names if k not in scalars]
        if missing_hyper:
            raise ValueError(f"{where}: missing hyper-parameters {missing_hyper}")
        hyper = self._check_hyper(**{k: scalars[k] for k in self.hyper_names})

        expected = {f"{i}.{s}" for i in range(n) for s in self._state_names(hyper)} if step else set()
        problems = []
        unknown = sorted(set(arrays) - expected)
        missing = sorted(expected - set(arrays), key=_key_order)
        if unknown:
            problems.append("  unexpected arrays: " + ", ".join(unknown))
        if missing:
            problems.append("  missing arrays: " + ", ".join(missing))
        for key in sorted(expected & set(arrays), key=_key_order):
            i = int(key.split(".", 1)[0])
            want, got = tuple(self.params[i].data.shape), tuple(np.shape(arrays[key]))
            if want != got:
                problems.append(f"  {key}: expected shape {want} (parameter {i}), got {got}")
        if problems:
            raise ValueError(f"{where} failed:\n" + "\n".join(problems))

        self._set_hyper(hyper)
        self.step_count = int(step)
        self.state = [{} for _ in self.params]
        for key in sorted(arrays, key=_key_order):
            index, state_name = key.split(".", 1)
            w = self.params[int(index)].data
            xp = backend.array_module(w)
            host = backend.to_numpy(arrays[key]) if xp is np else arrays[key]
            self.state[int(index)][state_name] = xp.array(host, dtype=w.dtype)
        return self

    # ---------------------------------------------------------------- helpers
    def _set_hyper(self, hyper: dict):
        for k, v in hyper.items():
            setattr(self, k, v)

    @staticmethod
    def _buffer(state: dict, name: str, like, xp):
        """``state[name]``, created as zeros shaped and typed like ``like`` on first use."""
        if name not in state:
            state[name] = xp.zeros_like(like)
        return state[name]

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


def _compiled_update(optimizer):
    """``update(w, g, state) -> bool`` running the compiled twin of ``optimizer``'s update where it
    applies (``optim/_numba.py``), or None when there is none or the NumPy kernels are chosen;
    numba is imported only then."""
    if kernels.current() == "numpy" or not kernels.numba_available():
        return None
    from . import _numba  # noqa: PLC0415 - compiles (or loads from the cache) on first use

    return _numba.twin(optimizer)


# ------------------------------------------------------------------------ validation helpers
def _param_list(params, owner: str) -> list:
    """``params`` as a list of Parameters, refusing modules, bare arrays, empties and duplicates."""
    if hasattr(params, "parameters") and callable(params.parameters):
        raise TypeError(f"{owner}: pass model.parameters(), not the model itself")
    if hasattr(params, "shape") and hasattr(params, "dtype"):
        raise TypeError(f"{owner}: params must be an iterable of Parameters, got a single array")
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got an empty parameter list")
    seen = set()
    for i, p in enumerate(params):
        if not (hasattr(p, "data") and hasattr(p, "grad")):
            raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a Parameter (.data and .grad)")
        if id(p) in seen:
            raise ValueError(f"{owner}: params[{i}] appears more than once in the parameter list")
        seen.add(id(p))
    return params


def check_real(owner: str, name: str, value, low=None, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a finite Python float in [low, high] (open ends as asked); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite real number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "" if low is None else f"{'(' if low_open else '['}{low}, "
        hi = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
        interval = (lo or "(-inf, ") + hi
        raise ValueError(f"{owner}: invalid {name} {value!r}: must be in {interval}")
    return value


def check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    return v


def _key_order(key: str):
    index, _, name = key.partition(".")
    return (int(index), name) if index.isdigit() else (-1, key)
