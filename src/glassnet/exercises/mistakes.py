"""Classic mistakes, recognised from a wrong answer.

When a learner's result differs from glassnet's on a case, :func:`diagnose` recomputes what each
known mistake would have produced on the same inputs (a forgotten ``1/(1-p)``, batch-norm ``dx``
without its mean terms, the true class counted in the SVM sum...) and returns the key of the first
one the learner's answer equals (see :mod:`hints` for the texts). Overwriting instead of
accumulating (``dx[window] = ...`` instead of ``+=``) does not depend on the loop order: the learner's
``dx`` then holds, at every pixel, a single window's contribution instead of their sum.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F

DETECTORS = {}


def detects(function, hint):
    """Register ``test(ctx) -> bool`` as recognising mistake ``hint`` in ``function``'s results."""
    def register(test):
        DETECTORS.setdefault(function, []).append((hint, test))
        return test
    return register


def same(a, b):
    """True when ``a`` equals ``b`` (shapes and values, to 1e-6 relative)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def diagnose(exercise, function, ctx) -> str | None:
    """The key of the first known mistake that explains the learner's result ``ctx['got']``, or None."""
    if any(not _finite(g) for g in ctx.get("got") or ()):
        return OVERFLOW.get(exercise)
    for hint, test in DETECTORS.get(function, ()):
        try:
            if test(ctx):
                return hint
        except (ValueError, IndexError, TypeError):  # a shape the mistake cannot apply to
            continue
    return None


def _finite(value):
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):   # not numbers at all: no overflow to speak of
        return True


OVERFLOW = {"sigmoid": "sigmoid_overflow", "softmax_loss": "subtract_max"}


# ---------------------------------------------------------------- shared recognisers
def _backward_with(ctx, fwd, bwd, dout):
    out, cache = fwd(*ctx["args"], **ctx["kwargs"])
    grads = bwd(dout, cache)
    return grads if isinstance(grads, tuple) else (grads,)


def _forgot_dout(fwd, bwd):
    def test(ctx):
        return same(ctx["got"][0], _backward_with(ctx, fwd, bwd, np.ones_like(ctx["dout"]))[0])
    return test


for _name in ("relu", "leaky_relu", "sigmoid"):
    detects(f"{_name}_backward", "forgot_dout")(
        _forgot_dout(getattr(F, f"{_name}_forward"), getattr(F, f"{_name}_backward")))


def overwrites(dx, families):
    """True when, at every pixel, ``dx`` holds one single write of some family instead of their sum.

    A family is a list of (value, support) pairs, each the full-size array one loop iteration writes
    and the mask of pixels it writes; pixels no iteration writes must be 0.
    """
    dx = np.asarray(dx, dtype=np.float64)
    for family in families:
        values = np.stack([np.broadcast_to(v, dx.shape) for v, _ in family])
        support = np.stack([np.broadcast_to(s, dx.shape) for _, s in family])
        ok = (support & np.isclose(values, dx, rtol=1e-6, atol=1e-9)).any(axis=0)
        ok |= ~support.any(axis=0) & np.isclose(dx, 0.0)
        if ok.all():
            return True
    return False


def _window(shape, i, j, kh, kw, s):
    mask = np.zeros(shape, dtype=bool)
    mask[..., i * s: i * s + kh, j * s: j * s + kw] = True
    return mask


def _accumulate_test(families):
    def test(ctx):
        return not same(ctx["got"][0], ctx["want"][0]) and overwrites(ctx["got"][0], families(ctx))
    return test


# ---------------------------------------------------------------- affine
@detects("affine_backward", "reshape_dx")
def _affine_flat_dx(ctx):
    x = ctx["args"][0]
    return x.ndim > 2 and np.shape(ctx["got"][0]) == (x.shape[0], x[0].size)


@detects("affine_backward", "sum_db")
def _affine_db(ctx):
    return np.shape(ctx["got"][2]) == np.shape(ctx["dout"])


@detects("affine_forward", "no_bias")
def _affine_no_bias(ctx):
    x, w, _ = ctx["args"]
    return same(ctx["got"][0], x.reshape(x.shape[0], -1) @ w)


# ---------------------------------------------------------------- activations
@detects("relu_backward", "relu_zero")
def _relu_ge(ctx):
    x = ctx["args"][0]
    return same(ctx["got"][0], ctx["dout"] * (x >= 0))


@detects("leaky_relu_backward", "leaky_slope")
def _leaky_no_slope(ctx):
    return same(ctx["got"][0], ctx["dout"] * (ctx["args"][0] > 0))


@detects("leaky_relu_forward", "use_slope")
def _leaky_default_slope(ctx):
    return ctx["kwargs"].get("slope", 0.01) != 0.01 and same(ctx["got"][0], F.leaky_relu_forward(ctx["args"][0])[0])


@detects("leaky_relu_backward", "use_slope")
def _leaky_default_slope_backward(ctx):
    x = ctx["args"][0]
    return ctx["kwargs"].get("slope", 0.01) != 0.01 and same(ctx["got"][0], ctx["dout"] * np.where(x > 0, 1, 0.01))


# ---------------------------------------------------------------- conv
def _conv_geometry(ctx):
    x, w, _ = ctx["args"]
    stride, pad = ctx["kwargs"].get("stride", 1), ctx["kwargs"].get("pad", 0)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    return x, w, stride, pad, (n, c, h + 2 * pad, wd + 2 * pad), (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1


def _conv_writes(ctx):
    """One write per (filter, window) and one per window (filters summed): the loops learners write."""
    x, w, stride, pad, padded, ho, wo = _conv_geometry(ctx)
    dout = ctx["dout"]
    kh, kw = w.shape[2:]
    crop = (slice(None), slice(None), slice(pad, padded[2] - pad), slice(pad, padded[3] - pad))
    per_filter, per_window = [], []
    for i in range(ho):
        for j in range(wo):
            mask = _window(padded, i, j, kh, kw, stride)
            summed = np.zeros(padded)
            for f in range(w.shape[0]):
                value = np.zeros(padded)
                value[:, :, i * stride: i * stride + kh, j * stride: j * stride + kw] = (
                    dout[:, f, i, j][:, None, None, None] * w[f][None])
                summed += value
                per_filter.append((value[crop], mask[crop]))
            per_window.append((summed[crop], mask[crop]))
    return [per_filter, per_window]


detects("conv_backward", "accumulate")(_accumulate_test(_conv_writes))


@detects("conv_backward", "crop_padding")
def _conv_uncropped(ctx):
    _, _, _, pad, padded, _, _ = _conv_geometry(ctx)
    return pad > 0 and tuple(np.shape(ctx["got"][0])) == padded


@detects("conv_forward", "flipped_kernel")
def _conv_flipped(ctx):
    x, w, b = ctx["args"]
    return same(ctx["got"][0], F.conv_forward(x, w[:, :, ::-1, ::-1].copy(), b, **ctx["kwargs"])[0])


@detects("conv_forward", "no_bias")
def _conv_no_bias(ctx):
    x, w, b = ctx["args"]
    return same(ctx["got"][0], F.conv_forward(x, w, np.zeros_like(b), **ctx["kwargs"])[0])


# ---------------------------------------------------------------- pooling
def _pool_geometry(ctx):
    x = ctx["args"][0]
    size, stride = ctx["kwargs"].get("size", 2), ctx["kwargs"].get("stride", 2)
    return x, size, stride, (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1


def _max_writes(ctx):
    """Per window: dout at its first maximum, written over the whole window or at that pixel only."""
    x, size, stride, ho, wo = _pool_geometry(ctx)
    dout = ctx["dout"]
    whole, single = [], []
    for i in range(ho):
        for j in range(wo):
            win = x[:, :, i * stride: i * stride + size, j * stride: j * stride + size].reshape(*x.shape[:2], -1)
            first = win.argmax(axis=2)
            onehot = np.zeros(x.shape)
            rows, cols = i * stride + first // size, j * stride + first % size
            nn, cc = np.indices(x.shape[:2])
            onehot[nn, cc, rows, cols] = 1.0
            mask = _window(x.shape, i, j, size, size, stride)
            whole.append((onehot * dout[:, :, i, j][:, :, None, None], mask))
            single.append((dout[:, :, i, j][:, :, None, None] * onehot, onehot > 0))
    return [whole, single]


detects("max_pool_backward", "accumulate")(_accumulate_test(_max_writes))


@detects("max_pool_backward", "pool_ties")
def _max_all_ties(ctx):
    x, size, stride, ho, wo = _pool_geometry(ctx)
    dx = np.zeros(x.shape)
    for i in range(ho):
        for j in range(wo):
            win = x[:, :, i * stride: i * stride + size, j * stride: j * stride + size]
            hit = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride: i * stride + size, j * stride: j * stride + size] += hit * ctx["dout"][:, :, i, j][:, :, None, None]
    return same(ctx["got"][0], dx)


def _avg_writes(ctx):
    x, size, stride, ho, wo = _pool_geometry(ctx)
    return [[(np.broadcast_to(ctx["dout"][:, :, i, j][:, :, None, None] / size**2, x.shape),
              _window(x.shape, i, j, size, size, stride)) for i in range(ho) for j in range(wo)]]


detects("avg_pool_backward", "accumulate")(_accumulate_test(_avg_writes))


@detects("avg_pool_backward", "avg_divide")
def _avg_undivided(ctx):
    return same(ctx["got"][0], ctx["want"][0] * ctx["kwargs"].get("size", 2) ** 2)


@detects("global_avg_pool_backward", "avg_divide")
def _global_undivided(ctx):
    h, w = ctx["args"][0].shape[2:]
    return same(ctx["got"][0], ctx["want"][0] * h * w)


# ---------------------------------------------------------------- batch norm
def _bn_stats(ctx):
    x = ctx["args"][0]
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    m = x.size // x.shape[1]
    return x, axes, m, x.mean(axis=axes), x.var(axis=axes)


def _running_after(ctx, var_factor, keep_old):
    running, momentum = ctx["args"][3], ctx["kwargs"].get("momentum", 0.1)
    _, _, m, mu, var = _bn_stats(ctx)
    new_weight = (1 - momentum) if keep_old else momentum
    return [(1 - new_weight) * running["mean"] + new_weight * mu,
            (1 - new_weight) * running["var"] + new_weight * var * var_factor(m)]


@detects("batchnorm_forward", "bn_unbiased")
def _bn_biased(ctx):
    return ctx["args"][4] and all(same(g, w) for g, w in zip(ctx["got"][1:], _running_after(ctx, lambda m: 1.0, False)))


@detects("batchnorm_forward", "bn_momentum")
def _bn_momentum(ctx):
    return ctx["args"][4] and any(
        all(same(g, w) for g, w in zip(ctx["got"][1:], _running_after(ctx, factor, True)))
        for factor in (lambda m: m / (m - 1), lambda m: 1.0))


@detects("batchnorm_forward", "bn_eval")
def _bn_eval_batch_stats(ctx):
    if ctx["args"][4]:
        return False
    args = list(ctx["args"])
    args[4] = True
    return same(ctx["got"][0], F.batchnorm_forward(*args, **ctx["kwargs"])[0])


@detects("batchnorm_backward", "bn_mean_terms")
def _bn_no_mean_terms(ctx):
    x, axes, _, mu, var = _bn_stats(ctx)
    gamma, eps = ctx["args"][1], ctx["kwargs"].get("eps", 1e-5)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return ctx["args"][4] and same(ctx["got"][0], ctx["dout"] * gamma.reshape(shape) / np.sqrt(var + eps).reshape(shape))


# ---------------------------------------------------------------- dropout
@detects("dropout_forward", "inverted_dropout")
def _dropout_unscaled(ctx):
    x, out = ctx["args"][0], np.asarray(ctx["got"][0])
    return bool(ctx["args"][2]) and bool(np.all(np.isclose(out, 0) | np.isclose(out, x)))


@detects("dropout_forward", "dropout_eval")
def _dropout_in_eval(ctx):
    return not ctx["args"][2]


@detects("dropout_backward", "inverted_dropout")
def _dropout_unscaled_backward(ctx):
    want, got = ctx["want"][0], np.asarray(ctx["got"][0])
    p = ctx["args"][1]
    return bool(ctx["args"][2]) and same(got, want * (1 - p))


# ---------------------------------------------------------------- losses
def _scaled(factor):
    def test(ctx):
        return all(same(g, w * factor(ctx)) for g, w in zip(ctx["got"], ctx["want"]))
    return test


def _batch(ctx):
    return ctx["args"][0].shape[0]


def _elements_per_sample(ctx):
    return ctx["args"][0].size / ctx["args"][0].shape[0]


detects("softmax_loss", "divide_n")(_scaled(_batch))
detects("svm_loss", "divide_n")(_scaled(_batch))
detects("bce_loss", "mean_elements")(_scaled(_elements_per_sample))
detects("mse_loss", "mean_elements")(_scaled(_elements_per_sample))


@detects("svm_loss", "svm_true_class")
def _svm_counts_true_class(ctx):
    """Summing over every class j adds the true class's own margin, delta, to each sample's loss."""
    return same(ctx["got"][0], ctx["want"][0] + ctx["kwargs"].get("delta", 1.0))


@detects("bce_loss", "bce_weight")
def _bce_unweighted(ctx):
    return "weight" in ctx["kwargs"] and any(
        same(g, w) for g, w in zip(ctx["got"], F.bce_loss(*ctx["args"])))


@detects("mse_loss", "mse_two")
def _mse_half_gradient(ctx):
    return same(ctx["got"][0], ctx["want"][0]) and same(ctx["got"][1], ctx["want"][1] / 2)


# ---------------------------------------------------------------- two-layer net
def _weights(ctx):
    params = ctx["args"][0]
    return {"W1": params["W1"], "W2": params["W2"]}


@detects("two_layer_net_loss", "reg_grad")
def _net_no_reg_grad(ctx):
    reg, (_, dW1, _, dW2, _) = ctx["kwargs"].get("reg", 0.0), ctx["want"]
    w = _weights(ctx)
    return reg > 0 and same(ctx["got"][1], dW1 - reg * w["W1"]) and same(ctx["got"][3], dW2 - reg * w["W2"])


@detects("two_layer_net_loss", "reg_half")
def _net_full_reg(ctx):
    reg, w = ctx["kwargs"].get("reg", 0.0), _weights(ctx)
    extra = 0.5 * reg * sum(float(np.sum(v * v)) for v in w.values())
    return reg > 0 and same(ctx["got"][0], ctx["want"][0] + extra)


@detects("two_layer_net_loss", "reg_bias")
def _net_reg_bias(ctx):
    reg, params = ctx["kwargs"].get("reg", 0.0), ctx["args"][0]
    extra = 0.5 * reg * float(np.sum(params["b1"] ** 2) + np.sum(params["b2"] ** 2))
    return reg > 0 and (same(ctx["got"][0], ctx["want"][0] + extra) or same(ctx["got"][0], ctx["want"][0] + 2 * extra))


@detects("two_layer_net_loss", "relu_mask")
def _net_no_relu_mask(ctx):
    params, X, y = ctx["args"]
    reg = ctx["kwargs"].get("reg", 0.0)
    hidden = X @ params["W1"] + params["b1"]
    scores = np.maximum(hidden, 0) @ params["W2"] + params["b2"]
    _, dscores = F.softmax_loss(scores, y)
    dhidden = dscores @ params["W2"].T          # not masked by the ReLU
    return same(ctx["got"][1], X.T @ dhidden + reg * params["W1"])


# ---------------------------------------------------------------- optimizer steps
def _trajectory(ctx, step):
    w, dws, config = ctx["args"]
    config, ws = dict(config or {}), []
    for dw in dws:
        w = step(w, dw, config)
        ws.append(w)
    return ws


def _matches_trajectory(step):
    def test(ctx):
        return all(same(g, w) for g, w in zip(ctx["got"], _trajectory(ctx, step)))
    return test


def _sgd(carry, damp):
    def step(w, dw, config):
        lr, mu = config.get("lr", 1e-2), config.get("momentum", 0.9)
        buf = config.get("buf")
        if damp:   # the running-average form, started at zero
            buf = mu * (0.0 if buf is None else buf) + (1 - mu) * dw
        else:
            buf = dw if buf is None else mu * buf + dw
        if carry:
            config["buf"] = buf
        return w - lr * buf
    return step


detects("sgd_momentum", "store_state")(_matches_trajectory(_sgd(carry=False, damp=False)))
detects("sgd_momentum", "momentum_form")(_matches_trajectory(_sgd(carry=True, damp=True)))


def _adam(correct=True, eps_inside=False, count=True, carry=True):
    def step(w, dw, config):
        lr, (b1, b2), eps = config.get("lr", 1e-3), config.get("betas", (0.9, 0.999)), config.get("eps", 1e-8)
        t = config.get("t", 0) + 1
        m = b1 * config.get("m", 0.0) + (1 - b1) * dw
        v = b2 * config.get("v", 0.0) + (1 - b2) * dw * dw
        if carry:
            config.update(m=m, v=v, t=t if count else 0)
        if correct:
            m, v = m / (1 - b1**t), v / (1 - b2**t)
        denom = np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps
        return w - lr * m / denom
    return step


detects("adam", "adam_bias")(_matches_trajectory(_adam(correct=False)))
detects("adam", "adam_eps")(_matches_trajectory(_adam(eps_inside=True)))
detects("adam", "adam_step")(_matches_trajectory(_adam(count=False)))
detects("adam", "store_state")(_matches_trajectory(_adam(carry=False)))
