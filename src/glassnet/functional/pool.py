"""Max, average and global average pooling over (N, C, H, W) inputs."""
from __future__ import annotations

from ..backend import array_module
from ._windows import col2im, output_size, pair, windows


def _pool_windows(name, x, size, stride):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    kh, kw = pair(size, "size")
    sh, sw = pair(stride, "stride")
    output_size(name, x.shape[2], kh, sh, 0)
    output_size(name, x.shape[3], kw, sw, 0)
    return windows(x, kh, kw, sh, sw), (kh, kw), (sh, sw)


def max_pool_forward(x, size=2, stride=2):
    """Max pooling: out[n, c, i, j] = max_{a,b < size} x[n, c, i*stride + a, j*stride + b].

    x (N, C, H, W) -> out (N, C, Ho, Wo), Ho = (H - size) // stride + 1 (windows may overlap and
    need not tile the input). Cache: the flat index of the first maximum of every window (ties go
    to the first position in row-major order, as in PyTorch).
    """
    win, (kh, kw), (sh, sw) = _pool_windows("max_pool_forward", x, size, stride)
    n, c, ho, wo = win.shape[:4]
    flat = win.reshape(n, c, ho, wo, kh * kw)
    arg = flat.argmax(axis=-1)
    xp = array_module(x)
    out = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    return out, (x.shape, arg, (kh, kw), (sh, sw))


def max_pool_backward(dout, cache):
    """The gradient flows only to each window's (first) maximum: dx[argmax] += dout."""
    x_shape, arg, (kh, kw), (sh, sw) = cache
    xp = array_module(dout)
    onehot = arg[..., None] == xp.arange(kh * kw)
    dwin = (onehot * dout[..., None]).reshape(dout.shape + (kh, kw))
    return col2im(dwin, x_shape, sh, sw)


def avg_pool_forward(x, size=2, stride=2):
    """Mean pooling: out[n, c, i, j] = (1 / size^2) * sum_{a,b} x[n, c, i*stride + a, j*stride + b]."""
    win, k, s = _pool_windows("avg_pool_forward", x, size, stride)
    return win.mean(axis=(4, 5)), (x.shape, k, s)


def avg_pool_backward(dout, cache):
    """Each input in a window receives dout / size^2 (summed over the windows that contain it)."""
    x_shape, (kh, kw), (sh, sw) = cache
    xp = array_module(dout)
    share = dout / dout.dtype.type(kh * kw)
    dwin = xp.broadcast_to(share[..., None, None], dout.shape + (kh, kw))
    return col2im(dwin, x_shape, sh, sw)


def global_avg_pool_forward(x):
    """Global average pooling: out[n, c] = (1 / (H*W)) * sum_{i,j} x[n, c, i, j]; (N,C,H,W) -> (N,C)."""
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool_forward: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    return x.mean(axis=(2, 3)), x.shape


def global_avg_pool_backward(dout, cache):
    """dx[n, c, i, j] = dout[n, c] / (H*W)."""
    x_shape = cache
    xp = array_module(dout)
    dx = xp.empty(x_shape, dtype=dout.dtype)
    dx[...] = (dout / dout.dtype.type(x_shape[2] * x_shape[3]))[:, :, None, None]
    return dx
