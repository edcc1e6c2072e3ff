"""One learner answer per exercise with a classic mistake in it, and the hint it must earn.

Each answer is real code a learner could write (independent of glassnet's kernels), wrong in one
known way; ``MISTAKES[name] = (source, hint key)``.
"""
import textwrap


def _src(code):
    return "import numpy as np\n\n" + textwrap.dedent(code)


MISTAKES = {
    "affine": (_src("""
        def affine_forward(x, w, b):
            return x.reshape(x.shape[0], -1) @ w + b, (x, w)

        def affine_backward(dout, cache):
            x, w = cache                        # dx left flat: (N, D) instead of x's shape
            return dout @ w.T, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """), "reshape_dx"),
    "relu": (_src("""
        def relu_forward(x):
            return np.maximum(x, 0), x

        def relu_backward(dout, cache):
            dout[cache <= 0] = 0                # writes into dout
            return dout
    """), "in_place"),
    "leaky_relu": (_src("""
        def leaky_relu_forward(x, slope=0.01):
            return np.where(x > 0, x, slope * x), (x, slope)

        def leaky_relu_backward(dout, cache):
            x, slope = cache
            return dout * (x > 0)               # the slope's gradient forgotten
    """), "leaky_slope"),
    "sigmoid": (_src("""
        def sigmoid_forward(x):
            e = np.exp(x)                       # overflows for large x: inf / inf
            out = e / (1 + e)
            return out, out

        def sigmoid_backward(dout, cache):
            return dout * cache * (1 - cache)
    """), "sigmoid_overflow"),
    "conv": (_src("""
        def conv_forward(x, w, b, stride=1, pad=0):
            N, C, H, W = x.shape
            F, _, HH, WW = w.shape
            xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
            out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
            return out, (xp, w, stride)

        def conv_backward(dout, cache):
            xp, w, stride = cache
            F, _, HH, WW = w.shape
            dxp, dw = np.zeros_like(xp), np.zeros_like(w)
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    dw += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
                    dxp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += np.tensordot(
                        dout[:, :, i, j], w, axes=([1], [0]))
            return dxp, dw, dout.sum(axis=(0, 2, 3))    # the padding is not cropped off dx
    """), "crop_padding"),
    "max_pool": (_src("""
        def max_pool_forward(x, size=2, stride=2):
            N, C, H, W = x.shape
            Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
            out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
            for i in range(Ho):
                for j in range(Wo):
                    out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
            return out, (x, size, stride)

        def max_pool_backward(dout, cache):
            x, size, stride = cache
            dx = np.zeros_like(x)
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    win = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
                    mask = win == win.max(axis=(2, 3), keepdims=True)     # every tied maximum
                    dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += mask * dout[:, :, i, j][:, :, None, None]
            return dx
    """), "pool_ties"),
    "avg_pool": (_src("""
        def avg_pool_forward(x, size=2, stride=2):
            N, C, H, W = x.shape
            Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
            out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
            for i in range(Ho):
                for j in range(Wo):
                    out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].mean(axis=(2, 3))
            return out, (x.shape, size, stride)

        def avg_pool_backward(dout, cache):
            shape, size, stride = cache
            dx = np.zeros(shape, dtype=dout.dtype)
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):       # = where windows overlap: += is needed
                    dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] = dout[:, :, i, j][:, :, None, None] / size**2
            return dx
    """), "accumulate"),
    "global_avg_pool": (_src("""
        def global_avg_pool_forward(x):
            return x.mean(axis=(2, 3)), x.shape

        def global_avg_pool_backward(dout, cache):
            return np.broadcast_to(dout[:, :, None, None], cache).copy()    # not divided by H*W
    """), "avg_divide"),
    "batchnorm": (_src("""
        def batchnorm_forward(x, gamma, beta, running, train, momentum=0.1, eps=1e-5):
            axes = (0,) if x.ndim == 2 else (0, 2, 3)
            shape = (1, -1) + (1,) * (x.ndim - 2)
            if train:
                mu, var = x.mean(axis=axes), x.var(axis=axes)
                m = x.size // x.shape[1]
                running["mean"] = (1 - momentum) * running["mean"] + momentum * mu
                running["var"] = (1 - momentum) * running["var"] + momentum * var * m / (m - 1)
            else:
                mu, var = running["mean"], running["var"]
            inv_std = 1 / np.sqrt(var + eps)
            x_hat = (x - mu.reshape(shape)) * inv_std.reshape(shape)
            return gamma.reshape(shape) * x_hat + beta.reshape(shape), (x_hat, gamma, inv_std, axes, shape)

        def batchnorm_backward(dout, cache):
            x_hat, gamma, inv_std, axes, shape = cache
            dx = dout * gamma.reshape(shape) * inv_std.reshape(shape)    # as if mu and var were constants
            return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)
    """), "bn_mean_terms"),
    "dropout": (_src("""
        def dropout_forward(x, p, train, rng):
            if not train:
                return x, None
            keep = rng.random(x.shape) >= p
            return x * keep, keep                 # kept units not scaled by 1/(1-p)

        def dropout_backward(dout, cache):
            return dout if cache is None else dout * cache
    """), "inverted_dropout"),
    "softmax_loss": (_src("""
        def softmax_loss(scores, y):
            e = np.exp(scores)                    # no max subtracted: overflows for large scores
            p = e / e.sum(axis=1, keepdims=True)
            n = scores.shape[0]
            d = p.copy()
            d[np.arange(n), y] -= 1
            return -np.log(p[np.arange(n), y]).mean(), d / n
    """), "subtract_max"),
    "svm_loss": (_src("""
        def svm_loss(scores, y, delta=1.0):
            n = scores.shape[0]
            margins = np.maximum(0, scores - scores[np.arange(n), y][:, None] + delta)   # true class kept
            d = (margins > 0).astype(scores.dtype)
            d[np.arange(n), y] = -(d.sum(axis=1) - 1)
            return margins.sum() / n, d / n
    """), "svm_true_class"),
    "bce_loss": (_src("""
        def bce_loss(probs, targets, weight=None):
            w = 1.0 if weight is None else weight
            n = probs.shape[0]                    # averaged over the batch only
            loss = -(w * (targets * np.log(probs) + (1 - targets) * np.log(1 - probs))).sum() / n
            return loss, w * (probs - targets) / (probs * (1 - probs)) / n
    """), "mean_elements"),
    "mse_loss": (_src("""
        def mse_loss(pred, target):
            diff = pred - target
            return (diff * diff).mean(), diff / diff.size     # the factor 2 forgotten
    """), "mse_two"),
    "two_layer_net": (_src("""
        def two_layer_net_loss(params, X, y=None, reg=0.0):
            W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
            hidden = X @ W1 + b1
            h = np.maximum(hidden, 0)
            scores = h @ W2 + b2
            if y is None:
                return scores
            n = X.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
            loss = -np.log(p[np.arange(n), y]).mean() + 0.5 * reg * ((W1 * W1).sum() + (W2 * W2).sum())
            dscores = p.copy()
            dscores[np.arange(n), y] -= 1
            dscores /= n
            dh = dscores @ W2.T * (hidden > 0)
            return loss, {"W1": X.T @ dh, "b1": dh.sum(axis=0), "W2": h.T @ dscores, "b2": dscores.sum(axis=0)}
    """), "reg_grad"),
    "sgd_momentum": (_src("""
        def sgd_momentum(w, dw, config=None):
            config = {} if config is None else config
            buf = config.get("momentum_buffer")
            buf = dw if buf is None else config.get("momentum", 0.9) * buf + dw
            return w - config.get("lr", 1e-2) * buf, config     # the buffer is never stored
    """), "store_state"),
    "adam": (_src("""
        def adam(w, dw, config=None):
            config = {} if config is None else dict(config)
            b1, b2 = config.get("betas", (0.9, 0.999))
            m = b1 * config.get("exp_avg", 0) + (1 - b1) * dw
            v = b2 * config.get("exp_avg_sq", 0) + (1 - b2) * dw * dw
            config.update(exp_avg=m, exp_avg_sq=v, step=config.get("step", 0) + 1)
            return w - config.get("lr", 1e-3) * m / (np.sqrt(v) + config.get("eps", 1e-8)), config   # no bias correction
    """), "adam_bias"),
}


def _variant(name, old, new):
    """MISTAKES[name]'s source with ``old`` replaced by ``new`` (which must occur)."""
    source = MISTAKES[name][0]
    assert old in source, (name, old)
    return source.replace(old, new)


def _two_layer_net(old, new):
    """The two-layer net answer with the regularisation gradient in place, then ``old`` -> ``new``."""
    source = _variant("two_layer_net", '"W1": X.T @ dh,', '"W1": X.T @ dh + reg * W1,').replace(
        '"W2": h.T @ dscores,', '"W2": h.T @ dscores + reg * W2,')
    assert old in source, old
    return source.replace(old, new)


# (exercise, source, hint): one more answer for every other mistake the grader recognises
MORE_MISTAKES = [
    ("affine", _variant("affine", "return dout @ w.T, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)",
                        "return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout"), "sum_db"),
    ("affine", _variant("affine", "return x.reshape(x.shape[0], -1) @ w + b, (x, w)",
                        "return x.reshape(x.shape[0], -1) @ w, (x, w)"), "no_bias"),
    ("relu", _src("""
        def relu_forward(x):
            return np.maximum(x, 0), x

        def relu_backward(dout, cache):
            return dout * (cache >= 0)
    """), "relu_zero"),
    ("relu", _src("""
        def relu_forward(x):
            return np.maximum(x, 0), x

        def relu_backward(dout, cache):
            return (cache > 0).astype(dout.dtype)
    """), "forgot_dout"),
    ("relu", _src("""
        def relu_forward(x):
            return np.maximum(x, 0).astype(np.float64), x

        def relu_backward(dout, cache):
            return dout * (cache > 0)
    """), "keep_dtype"),
    ("leaky_relu", _variant("leaky_relu", "return np.where(x > 0, x, slope * x), (x, slope)",
                            "return np.where(x > 0, x, 0.01 * x), (x, slope)"), "use_slope"),
    ("leaky_relu", _src("""
        def leaky_relu_forward(x, slope=0.01):
            return np.where(x > 0, 2 * x, slope * x), (x, slope)

        def leaky_relu_backward(dout, cache):
            x, slope = cache
            return dout * np.where(x > 0, 1, slope).astype(dout.dtype)
    """), "fix_forward"),
    ("conv", _src("""
        from glassnet.functional import conv_backward
        from glassnet.functional import conv_forward as correlate

        def conv_forward(x, w, b, stride=1, pad=0):
            return correlate(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, stride, pad)
    """), "flipped_kernel"),
    ("conv", _src("""
        from glassnet.functional import conv_backward
        from glassnet.functional import conv_forward as correlate

        def conv_forward(x, w, b, stride=1, pad=0):
            return correlate(x, w, np.zeros_like(b), stride, pad)
    """), "no_bias"),
    ("conv", _variant("conv", "] += np.tensordot(", "] = np.tensordot(").replace(
        "return dxp, dw,", "return dxp[:, :, pad:dxp.shape[2] - pad, pad:dxp.shape[3] - pad], dw,").replace(
        "return out, (xp, w, stride)", "return out, (xp, w, stride, pad)").replace(
        "xp, w, stride = cache", "xp, w, stride, pad = cache"), "accumulate"),
    ("max_pool", _src("""
        from glassnet.functional import max_pool_forward as _forward

        def max_pool_forward(x, size=2, stride=2):
            return _forward(x, size, stride)[0], (x, size, stride)

        def max_pool_backward(dout, cache):
            x, size, stride = cache
            N, C, Ho, Wo = dout.shape
            dx = np.zeros_like(x)
            for n in range(N):
                for c in range(C):
                    for i in range(Ho):
                        for j in range(Wo):
                            win = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                            a, b = np.unravel_index(np.argmax(win), win.shape)
                            dx[n, c, i * stride + a, j * stride + b] = dout[n, c, i, j]    # = instead of +=
            return dx
    """), "accumulate"),
    ("avg_pool", _variant("avg_pool", "] = dout[:, :, i, j][:, :, None, None] / size**2",
                          "] += dout[:, :, i, j][:, :, None, None]"), "avg_divide"),
    ("batchnorm", _variant("batchnorm", "momentum * var * m / (m - 1)", "momentum * var"), "bn_unbiased"),
    ("batchnorm", _variant("batchnorm", "(1 - momentum) * running", "momentum * running").replace(
        "+ momentum * mu", "+ (1 - momentum) * mu").replace("+ momentum * var", "+ (1 - momentum) * var"), "bn_momentum"),
    ("batchnorm", _variant("batchnorm", "if train:", "if True:"), "bn_eval"),
    ("dropout", _variant("dropout", "keep = rng.random(x.shape) >= p\n    return x * keep, keep",
                         "keep = rng.random(x.shape) < p\n    return x * keep / (1 - p), keep / (1 - p)"), "dropout_p"),
    ("dropout", _src("""
        def dropout_forward(x, p, train, rng):
            keep = rng.random(x.shape) >= p       # dropped in eval mode too
            return x * keep / (1 - p), keep / (1 - p)

        def dropout_backward(dout, cache):
            return dout * cache
    """), "dropout_eval"),
    ("dropout", _variant("dropout", "return x * keep, keep", "return x * keep / (1 - p), keep"), "inverted_dropout"),
    ("softmax_loss", _src("""
        def softmax_loss(scores, y):
            shifted = scores - scores.max(axis=1, keepdims=True)
            p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
            n = scores.shape[0]
            d = p.copy()
            d[np.arange(n), y] -= 1
            return -np.log(p[np.arange(n), y]).sum(), d      # summed, not averaged over the batch
    """), "divide_n"),
    ("bce_loss", _variant("bce_loss", "w = 1.0 if weight is None else weight\n    n = probs.shape[0]",
                          "w = 1.0\n    n = probs.size"), "bce_weight"),
    ("mse_loss", _src("""
        def mse_loss(pred, target):
            diff = pred - target
            n = pred.shape[0]
            return (diff * diff).sum() / n, 2 * diff / n
    """), "mean_elements"),
    ("two_layer_net", _two_layer_net("0.5 * reg * ((W1 * W1).sum() + (W2 * W2).sum())",
                                     "reg * ((W1 * W1).sum() + (W2 * W2).sum())").replace("reg * W", "2 * reg * W"),
     "reg_half"),
    ("two_layer_net", _two_layer_net("(W2 * W2).sum())", "(W2 * W2).sum() + (b1 * b1).sum() + (b2 * b2).sum())"),
     "reg_bias"),
    ("two_layer_net", _two_layer_net("dh = dscores @ W2.T * (hidden > 0)", "dh = dscores @ W2.T"), "relu_mask"),
    ("sgd_momentum", _src("""
        def sgd_momentum(w, dw, config=None):
            config = {} if config is None else config
            mu = config.get("momentum", 0.9)
            buf = config.get("momentum_buffer", np.zeros_like(w))
            config["momentum_buffer"] = mu * buf + (1 - mu) * dw
            return w - config.get("lr", 1e-2) * config["momentum_buffer"], config
    """), "momentum_form"),
    ("adam", _src("""
        def adam(w, dw, config=None):
            config = {} if config is None else dict(config)
            b1, b2 = config.get("betas", (0.9, 0.999))
            t = config.get("step", 0) + 1
            m = b1 * config.get("exp_avg", 0) + (1 - b1) * dw
            v = b2 * config.get("exp_avg_sq", 0) + (1 - b2) * dw * dw
            config.update(exp_avg=m, exp_avg_sq=v, step=t)
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            return w - config.get("lr", 1e-3) * m_hat / np.sqrt(v_hat + config.get("eps", 1e-8)), config
    """), "adam_eps"),
    ("adam", _src("""
        def adam(w, dw, config=None):
            config = {} if config is None else dict(config)
            b1, b2 = config.get("betas", (0.9, 0.999))
            t = 1                                       # never counted up
            m = b1 * config.get("exp_avg", 0) + (1 - b1) * dw
            v = b2 * config.get("exp_avg_sq", 0) + (1 - b2) * dw * dw
            config.update(exp_avg=m, exp_avg_sq=v, step=t)
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            return w - config.get("lr", 1e-3) * m_hat / (np.sqrt(v_hat) + config.get("eps", 1e-8)), config
    """), "adam_step"),
    ("adam", _src("""
        def adam(w, dw, config=None):
            config = {} if config is None else config
            b1, b2 = config.get("betas", (0.9, 0.999))
            m, v = (1 - b1) * dw, (1 - b2) * dw * dw      # the moments are never kept
            m_hat, v_hat = m / (1 - b1), v / (1 - b2)
            return w - config.get("lr", 1e-3) * m_hat / (np.sqrt(v_hat) + config.get("eps", 1e-8)), config
    """), "store_state"),
]
