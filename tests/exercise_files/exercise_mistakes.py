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
