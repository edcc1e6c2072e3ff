"""The graded parts of an exercise, run against a loaded learner module (inside the worker process).

For every function: its signature; the shape and dtype of its results (float32 in, float32 out);
its values against glassnet's reference on every case; for a backward (or a loss's gradient) a
float64 central-difference check against the learner's own forward; and, for the whole file, that
no input was modified. Each part is a :class:`Part`; a learner error inside one part (an exception,
``sys.exit``, a wrong return value) fails that part with a message and never stops the others.
"""
from __future__ import annotations

import functools
import inspect
import os
import traceback
from dataclasses import dataclass

import numpy as np

from ..diagnostics.gradcheck import numerical_gradient, relative_error
from . import catalog, reference
from .cases import SPECS, materialize
from .mistakes import diagnose

TOL_VALUES = 1e-6      # largest |got - want| / max(1, max |want|)
TOL_GRADCHECK = 1e-5   # largest relative error against central differences


@dataclass
class Part:
    """One row of the report. ``message`` is (key, params) for :mod:`report`; ``hint`` a hint key."""

    function: str
    kind: str           # signature | shape_dtype | values | gradcheck | inputs
    passed: bool = False
    error: float | None = None
    message: tuple | None = None
    hint: str | None = None

    def as_dict(self):
        return {"function": self.function, "kind": self.kind, "passed": self.passed,
                "error": None if self.error is None else float(self.error),
                "message": list(self.message) if self.message else None, "hint": self.hint}


class Verdict(Exception):
    """Fails the current part with ``message`` = (key, params) and an optional hint."""

    def __init__(self, key, hint=None, **params):
        super().__init__(key)
        self.message = (key, params)
        self.hint = hint


def planned_parts(exercise_name):
    """(function, kind) of every part of an exercise, in report order (the same for every file)."""
    spec = SPECS[exercise_name]
    parts = []
    for fn in spec.functions:
        parts += [(fn, "signature"), (fn, "shape_dtype"), (fn, "values")]
        if spec.kind in ("loss", "net") or fn.endswith("_backward"):
            parts.append((fn, "gradcheck"))
    parts.append(("all", "inputs"))
    return parts


def learner_line(exc, path):
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename) == path:
            return frame.lineno
    return None


@functools.lru_cache(maxsize=None)
def _expected_params(function):
    """The parameters of ``def NAME(PARAMS)`` as the catalogue writes them."""
    scope = {}
    exec(f"def _f({function.params}): pass", scope)  # noqa: S102 - our own catalogue strings
    return list(inspect.signature(scope["_f"]).parameters.values())


def _check_signature(fn, function):
    try:
        got = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise Verdict("not_function", function=function.name) from None
    want = _expected_params(function)
    same = len(got) >= len(want) and all(
        g.name == w.name and g.default == w.default and g.kind in (w.POSITIONAL_OR_KEYWORD, w.POSITIONAL_ONLY)
        for g, w in zip(got, want)
    ) and all(g.default is not g.empty or g.kind in (g.VAR_POSITIONAL, g.VAR_KEYWORD) for g in got[len(want):])
    if not same:
        raise Verdict("signature", function=function.name, got=f"({', '.join(map(str, got))})",
                      want=f"({function.params})")


def _arrays(values):
    return [(i, v) for i, v in enumerate(values) if isinstance(v, np.ndarray)]


def _numbers(function, value, label):
    """``value`` as an array of numbers, or a Verdict saying what the function returned instead."""
    try:
        array = np.asarray(value)
        array.astype(np.float64)
    except (TypeError, ValueError):
        raise Verdict("not_numbers", function=function, output=label, got=type(value).__name__) from None
    if array.dtype.kind not in "biuf":
        raise Verdict("not_numbers", function=function, output=label, got=f"{type(value).__name__} of {array.dtype}")
    return array


def _max_error(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    return float(np.max(np.abs(got - want), initial=0.0) / max(1.0, float(np.max(np.abs(want), initial=0.0))))


class Grader:
    """Grades one learner module against one exercise; :meth:`run` yields each Part as it is done."""

    def __init__(self, exercise_name, module, path):
        self.exercise = catalog.get(exercise_name)
        self.spec = SPECS[exercise_name]
        self.module = module
        self.path = os.path.abspath(path)
        self.modified = []          # (function, argument, case label) of every input a call changed
        self.failed = set()         # (function, kind) of failed parts, for hints that depend on them
        self.calls = 0              # learner calls that returned
        self.hints = {}             # (function, kind) -> hint key of each failed part

    # ------------------------------------------------------------------ calling learner code
    def fn(self, name):
        fn = getattr(self.module, name, None)
        if fn is None:
            raise Verdict("missing", function=name)
        if not callable(fn):
            raise Verdict("not_function", function=name)
        return fn

    def call(self, name, args, kwargs=None, case=None, watch=()):
        """Call learner function ``name``; record any change to its array arguments or to ``watch``."""
        fn = self.fn(name)
        function = self.exercise.function(name)
        arg_names = [p.name for p in _expected_params(function)]
        watched = [(arg_names[i] if i < len(arg_names) else f"argument {i}", a, a.copy()) for i, a in _arrays(args)]
        watched += [(label, a, a.copy()) for label, a in watch]
        try:
            result = fn(*args, **(kwargs or {}))
        except KeyboardInterrupt:
            raise
        except NotImplementedError:
            raise Verdict("not_written", hint="not_written", function=name) from None
        except SystemExit as exc:
            raise Verdict("exited", function=name, code=str(exc.code)) from None
        except BaseException as exc:  # noqa: BLE001 - any learner error becomes a verdict
            raise Verdict("raised", function=name, error=f"{type(exc).__name__}: {exc}"[:300],
                          line=learner_line(exc, self.path)) from None
        self.calls += 1
        for label, array, before in watched:
            if array.shape != before.shape or not np.array_equal(array, before, equal_nan=True):
                self.modified.append((name, label, case.label if case else ""))
        return result

    def returns(self, name, result, n):
        """``result`` as a tuple of ``n`` values, or a Verdict naming what the function returned."""
        if n == 1:
            return (result,)
        if not isinstance(result, tuple) or len(result) != n:
            what = f"{len(result)} values" if isinstance(result, tuple) else type(result).__name__
            raise Verdict("returns", function=name, want=self.exercise.function(name).returns, got=what)
        return result

    # ------------------------------------------------------------------ the parts
    def run(self):
        for function, kind in planned_parts(self.exercise.name):
            part = Part(function, kind)
            try:
                if kind == "inputs":
                    self._inputs()
                elif kind == "signature":
                    _check_signature(self.fn(function), self.exercise.function(function))
                else:
                    error = getattr(self, f"_{self.spec.kind}_{kind}")(function)
                    part.error = error
                part.passed = True
            except Verdict as v:
                part.message, part.hint = v.message, v.hint
                part.error = v.message[1].get("error_value", part.error)
                self.failed.add((function, kind))
                self.hints[(function, kind)] = v.hint
            except Exception as exc:  # noqa: BLE001 - e.g. results that are not numbers at all
                part.message = ("grader_error", {"error": f"{type(exc).__name__}: {exc}"[:300]})
                self.failed.add((function, kind))
            yield part

    def _inputs(self):
        if not self.calls:
            raise Verdict("nothing_ran")
        if self.modified:
            name, label, case = self.modified[0]
            raise Verdict("modified", hint="in_place", function=name, argument=label, case=case)

    def _worst(self, function, cases, evaluate):
        """Run ``evaluate(case) -> (error, ctx)`` over the cases; fail on the worst one, with a hint."""
        worst, worst_case, hint = 0.0, None, None
        for case in cases:
            error, ctx = evaluate(case)
            if error > worst:
                worst, worst_case = error, case
            if error > TOL_VALUES and hint is None:
                hint = diagnose(self.exercise.name, function, ctx)
        if worst > TOL_VALUES:
            raise Verdict("values", hint=hint, case=worst_case.label, error_value=worst)
        return worst

    def _compare(self, name, got, want, labels, ctx):
        """Largest error over paired outputs; a shape mismatch is a Verdict naming the output (and a hint)."""
        worst = 0.0
        for g, w, label in zip(got, want, labels):
            _numbers(name, g, label)
            if np.shape(g) != np.shape(w):
                raise Verdict("shape", hint=diagnose(self.exercise.name, name, ctx), function=name, output=label,
                              got=str(np.shape(g)), want=str(np.shape(w)))
            worst = max(worst, _max_error(g, w))
        return worst

    def _shape_dtype(self, name, got, want, labels, ctx):
        for g, w, label in zip(got, want, labels):
            g_arr = _numbers(name, g, label)
            if g_arr.shape != np.shape(w):
                ctx.update(got=tuple(got), want=tuple(want))
                raise Verdict("shape", hint=diagnose(self.exercise.name, name, ctx), function=name, output=label,
                              got=str(g_arr.shape), want=str(np.shape(w)))
            if np.ndim(w) and g_arr.dtype != np.float32:
                raise Verdict("dtype", hint="keep_dtype", function=name, output=label, got=str(g_arr.dtype))

    # ------------------------------------------------------------------ layers (forward/backward pairs)
    def _forward(self, case, dtype):
        args = tuple(materialize(a, dtype) for a in case.args)
        kwargs = materialize(case.kwargs, dtype)
        result = self.call(self.spec.functions[0], args, kwargs, case)
        out, cache = self.returns(self.spec.functions[0], result, 2)
        return args, kwargs, out, cache

    def _reference(self, case, dtype, dout=None):
        args = tuple(materialize(a, dtype) for a in case.args)
        out, cache = reference.get(self.spec.functions[0])(*args, **materialize(case.kwargs, dtype))
        if dout is None:
            return args, out, None
        grads = reference.get(self.spec.functions[1])(dout, cache)
        return args, out, grads if isinstance(grads, tuple) else (grads,)

    def _dout(self, case, out, dtype):
        seed = [len(case.label), int(np.prod(np.shape(out)))]
        return np.random.default_rng(seed).standard_normal(np.shape(out)).astype(dtype)

    def _states(self, args):
        """The dict arguments (batch norm's running statistics) after a call, as arrays to compare."""
        return [v for a in args if isinstance(a, dict) for v in a.values()]

    def _layer_shape_dtype(self, name):
        case = self.spec.cases[0]
        if name == self.spec.functions[0]:
            args, kwargs, out, _ = self._forward(case, np.float32)
            _, ref_out, _ = self._reference(case, np.float32)
            self._shape_dtype(name, (out,), (ref_out,), ("out",), {"case": case, "args": args, "kwargs": kwargs})
            return None
        args, kwargs, out, cache = self._forward(case, np.float32)
        dout = self._dout(case, out, np.float32)
        grads = self.returns(name, self.call(name, (dout, cache), case=case, watch=self._watch(args)),
                             len(self.spec.grad_names))
        want = tuple(args[i] for i in case.grad_args)
        self._shape_dtype(name, grads, want, self.spec.grad_names,
                          {"case": case, "args": args, "kwargs": kwargs, "dout": dout})
        return None

    def _watch(self, args):
        """The forward's array inputs, which a backward must not change either (they may sit in the cache)."""
        names = [p.name for p in _expected_params(self.exercise.function(self.spec.functions[0]))]
        return [(f"{names[i]} (input of {self.spec.functions[0]})", a) for i, a in _arrays(args)]

    def _layer_values(self, name):
        forward = name == self.spec.functions[0]

        def evaluate(case):
            args, kwargs, out, cache = self._forward(case, np.float64)
            if forward:
                ref_args, ref_out, _ = self._reference(case, np.float64)
                got, want = (out, *self._states(args)), (ref_out, *self._states(ref_args))
                labels = ("out",) + ("running",) * (len(got) - 1)
                expect = getattr(self, f"_expect_{self.exercise.name}_forward", None)
                if expect:
                    got, want = (out,), expect(args, out)
                ctx = {"case": case, "args": tuple(materialize(a) for a in case.args),
                       "kwargs": materialize(case.kwargs), "got": got, "want": want}
                return self._compare(name, got, want, labels, ctx), ctx
            dout = self._dout(case, out, np.float64)
            expect = getattr(self, f"_expect_{self.exercise.name}_backward", None)
            want = expect(args, out, dout) if expect else self._reference(case, np.float64, dout)[2]
            grads = self.returns(name, self.call(name, (dout.copy(), cache), case=case, watch=self._watch(args)),
                                 len(self.spec.grad_names))
            ctx = {"case": case, "args": tuple(materialize(a) for a in case.args), "kwargs": materialize(case.kwargs),
                   "dout": dout, "got": grads, "want": want}
            return self._compare(name, grads, want, self.spec.grad_names, ctx), ctx

        return self._worst(name, self.spec.cases, evaluate)

    def _layer_gradcheck(self, name):
        worst = 0.0
        for case in (c for c in self.spec.cases if c.gradcheck):
            args, kwargs, out, cache = self._forward(case, np.float64)
            dout = self._dout(case, out, np.float64)
            grads = self.returns(name, self.call(name, (dout.copy(), cache), case=case), len(self.spec.grad_names))
            for position, (k, g_name) in enumerate(zip(case.grad_args, self.spec.grad_names)):

                def f(v, k=k, case=case):
                    fresh = [materialize(a) for a in case.args]
                    fresh[k] = v
                    return self.returns(self.spec.functions[0], self.call(self.spec.functions[0], tuple(fresh),
                                                                          materialize(case.kwargs)), 2)[0]

                probe = materialize(case.args[k])
                worst = max(worst, self._gradcheck_error(name, grads[position], f, probe, dout, case, g_name))
        return worst

    def _gradcheck_error(self, name, analytic, f, x, dout, case, label):
        _numbers(name, analytic, label)
        if np.shape(analytic) != np.shape(x):
            raise Verdict("shape", function=name, output=label, got=str(np.shape(analytic)), want=str(np.shape(x)))
        error = relative_error(analytic, numerical_gradient(f, x, dout))
        if not error < TOL_GRADCHECK:
            forward, backward = self.spec.functions[0], self.spec.functions[-1]
            wrong_forward = (forward, "values") in self.failed and (backward, "values") not in self.failed
            # a wrong backward explains a failed check: repeat the hint its values part got
            hint = "fix_forward" if self.spec.kind == "layer" and wrong_forward else self.hints.get((backward, "values"))
            raise Verdict("gradcheck", hint=hint, case=case.label, output=label, error_value=error)
        return error

    # dropout draws its own mask: its values are checked for being *a* valid inverted-dropout output
    @staticmethod
    def _expect_dropout_forward(args, out):
        """The valid output nearest to ``out``: each unit 0 or x / (1 - p), about a fraction p of them 0."""
        x, p, train = args[0], args[1], args[2]
        if not train:
            return (x,)
        kept = np.abs(out) > 0.5 * np.abs(x) / (1 - p)
        dropped = 1.0 - float(np.mean(kept))
        if x.size >= 1000 and abs(dropped - p) > 0.05:
            hint = "dropout_p" if abs(dropped - (1 - p)) < 0.05 else None
            raise Verdict("drop_rate", hint=hint, got=f"{dropped:.2f}", want=f"{p:.2f}")
        return (np.where(kept, x / (1 - p), 0.0),)

    @staticmethod
    def _expect_dropout_backward(args, out, dout):
        x, p, train = args[0], args[1], args[2]
        if not train:
            return (dout,)
        return (np.where(np.abs(out) > 0.5 * np.abs(x) / (1 - p), dout / (1 - p), 0.0),)

    # ------------------------------------------------------------------ losses: (loss, grad) = f(scores, target)
    def _loss_call(self, case, dtype):
        args = tuple(materialize(a, dtype) for a in case.args)
        kwargs = materialize(case.kwargs, dtype)
        name = self.spec.functions[0]
        return args, kwargs, self.returns(name, self.call(name, args, kwargs, case), 2)

    def _loss_reference(self, case, dtype):
        args = tuple(materialize(a, dtype) for a in case.args)
        return reference.get(self.spec.functions[0])(*args, **materialize(case.kwargs, dtype))

    def _loss_shape_dtype(self, name):
        case = self.spec.cases[0]
        args, kwargs, (loss, grad) = self._loss_call(case, np.float32)
        if np.ndim(loss) != 0:
            raise Verdict("not_scalar", function=name, got=str(np.shape(loss)))
        self._shape_dtype(name, (grad,), (args[0],), self.spec.grad_names, {"case": case, "args": args})
        return None

    def _loss_values(self, name):
        def evaluate(case):
            args, kwargs, got = self._loss_call(case, np.float64)
            want = self._loss_reference(case, np.float64)
            ctx = {"case": case, "args": args, "kwargs": kwargs, "got": got, "want": want}
            return self._compare(name, got, want, ("loss",) + self.spec.grad_names, ctx), ctx

        return self._worst(name, self.spec.cases, evaluate)

    def _loss_gradcheck(self, name):
        worst = 0.0
        for case in (c for c in self.spec.cases if c.gradcheck):
            args, kwargs, (_, grad) = self._loss_call(case, np.float64)

            def f(v, case=case):
                fresh = (v, *(materialize(a) for a in case.args[1:]))
                return self.returns(name, self.call(name, fresh, materialize(case.kwargs)), 2)[0]

            worst = max(worst, self._gradcheck_error(name, grad, f, materialize(case.args[0]), np.float64(1.0), case,
                                                     self.spec.grad_names[0]))
        return worst

    # ------------------------------------------------------------------ the two-layer net
    def _net_call(self, case, dtype, with_labels=True):
        params, X, y = (materialize(a, dtype) for a in case.args)
        kwargs = materialize(case.kwargs, dtype)
        name = self.spec.functions[0]
        watch = [(f"params['{k}']", v) for k, v in params.items()]
        if not with_labels:
            return params, X, self.call(name, (params, X), kwargs, case, watch)
        loss, grads = self.returns(name, self.call(name, (params, X, y), kwargs, case, watch), 2)
        if not isinstance(grads, dict) or set(grads) != set(params):
            raise Verdict("grads_dict", function=name, got=sorted(grads) if isinstance(grads, dict) else type(grads).__name__)
        return params, X, (loss, *(grads[k] for k in self.spec.grad_names))

    def _net_shape_dtype(self, name):
        case = self.spec.cases[0]
        params, X, scores = self._net_call(case, np.float32, with_labels=False)
        ref = reference.two_layer_net_loss(*(materialize(a, np.float32) for a in case.args[:2]))
        self._shape_dtype(name, (scores,), (ref,), ("scores",), {"case": case})
        params, X, (loss, *grads) = self._net_call(case, np.float32)
        if np.ndim(loss) != 0:
            raise Verdict("not_scalar", function=name, got=str(np.shape(loss)))
        self._shape_dtype(name, grads, [params[k] for k in self.spec.grad_names], self.spec.grad_names, {"case": case})
        return None

    def _net_values(self, name):
        def evaluate(case):
            params, X, scores = self._net_call(case, np.float64, with_labels=False)
            ref_args = [materialize(a) for a in case.args]
            want_scores = reference.two_layer_net_loss(*ref_args[:2])
            params, X, got = self._net_call(case, np.float64)
            loss, grads = reference.two_layer_net_loss(*ref_args, **case.kwargs)
            want = (loss, *(grads[k] for k in self.spec.grad_names))
            ctx = {"case": case, "args": ref_args, "kwargs": case.kwargs, "got": got, "want": want}
            labels = ("scores", "loss") + tuple(f"d{k}" for k in self.spec.grad_names)
            return self._compare(name, (scores, *got), (want_scores, *want), labels, ctx), ctx

        return self._worst(name, self.spec.cases, evaluate)

    def _net_gradcheck(self, name):
        worst = 0.0
        for case in self.spec.cases:
            _, _, (_, *grads) = self._net_call(case, np.float64)
            for key, grad in zip(self.spec.grad_names, grads):
                params = materialize(case.args[0])

                def f(v, key=key, case=case, params=params):
                    fresh = dict(materialize(case.args[0]), **{key: v})
                    args = (fresh, *(materialize(a) for a in case.args[1:]))
                    return self.returns(name, self.call(name, args, materialize(case.kwargs)), 2)[0]

                worst = max(worst, self._gradcheck_error(name, grad, f, params[key], np.float64(1.0), case, f"d{key}"))
        return worst

    # ------------------------------------------------------------------ optimizer steps
    def _steps(self, case, dtype, function):
        """Apply ``function`` for every gradient of the case, carrying w and config; return the ws."""
        w, dws, config = (materialize(a, dtype) for a in case.args)
        ws = []
        for dw in dws:
            w, config = function(w, dw, config)
            ws.append(w)
        return ws

    def _learner_step(self, name, case):
        def step(w, dw, config):
            return self.returns(name, self.call(name, (w, dw, config), case=case), 2)
        return step

    def _step_shape_dtype(self, name):
        case = self.spec.cases[0]
        w = self._steps(case, np.float32, self._learner_step(name, case))[0]
        self._shape_dtype(name, (w,), (case.args[0],), ("next_w",), {"case": case})
        return None

    def _step_values(self, name):
        def evaluate(case):
            got = self._steps(case, np.float64, self._learner_step(name, case))
            want = self._steps(case, np.float64, reference.get(name))
            ctx = {"case": case, "args": tuple(materialize(a) for a in case.args), "got": got, "want": want}
            return self._compare(name, got, want, [f"next_w (step {i + 1})" for i in range(len(got))], ctx), ctx

        return self._worst(name, self.spec.cases, evaluate)
