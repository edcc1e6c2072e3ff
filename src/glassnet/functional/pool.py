"""Max, average and global average pooling over (N, C, H, W) images and (N, C, L) signals.

Both window poolings walk the kh*kw kernel offsets rather than the windows: at offset (a, b) the
pixels x[:, :, i*sh + a, j*sw + b] of all windows form one strided view (``offset_view``), so a
pooling is kh*kw whole-array operations (np.maximum / +) and nothing is copied into windows.
A signal (N, C, L) is pooled as the image (N, C, 1, L) with 1 x size windows.
"""
from __future__ import annotations

from ..backend import array_module
from . import _numba
from .activation import relu_backward, relu_forward
from ._windows import offset_view, output_size, pair, single, window_grid


def _pool_shape(name, x, size, stride):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    kh, kw = pair(size, "size")
    (sh, sw), _, (ho, wo) = window_grid(name, x.shape[2], x.shape[3], kh, kw, stride, 0)
    return (kh, kw), (sh, sw), (ho, wo)


def max_pool_forward(x, size=2, stride=2):
    """Max pooling: out[n, c, i, j] = max_{a,b < size} x[n, c, i*stride + a, j*stride + b].

    x (N, C, H, W) -> out (N, C, Ho, Wo), Ho = (H - size) // stride + 1 (windows may overlap and
    need not tile the input). Computed as ``np.maximum`` over the kh*kw offset views (a NaN in a
    window gives NaN). Cache: x and out; backward finds each window's first maximum from them.
    """
    (kh, kw), (sh, sw), (ho, wo) = _pool_shape("max_pool_forward", x, size, stride)
    twin = _numba.twin("pool", x)
    if twin:
        return twin.max_pool_forward(x, size, stride)
    xp = array_module(x)
    out = offset_view(x, 0, 0, ho, wo, sh, sw).copy()
    for k in range(1, kh * kw):
        xp.maximum(out, offset_view(x, k // kw, k % kw, ho, wo, sh, sw), out=out)
    return out, (x, out, (kh, kw), (sh, sw))


def max_pool_backward(dout, cache):
    """The gradient flows only to each window's first maximum (row-major order, as in PyTorch).

    Walking the offsets k = (a, b) in order, hit_k = (x[offset k] == out) and not yet taken by an
    earlier offset; dx[offset k] += dout * hit_k. (A NaN maximum is matched by x != x.) When the
    windows tile the input (stride == size) each pixel belongs to one window and is written once.
    """
    compiled = _numba.backward_twin("max_pool", cache)
    if compiled:
        return compiled(dout, cache)
    x, out, (kh, kw), (sh, sw) = cache
    xp = array_module(dout)
    ho, wo = dout.shape[2], dout.shape[3]
    dx = xp.zeros(x.shape, dtype=dout.dtype)
    taken = xp.zeros(out.shape, dtype=bool)
    for k in range(kh * kw):
        v = offset_view(x, k // kw, k % kw, ho, wo, sh, sw)
        hit = ((v == out) | (v != v)) & ~taken
        offset_view(dx, k // kw, k % kw, ho, wo, sh, sw)[...] += xp.where(hit, dout, dout.dtype.type(0))  # a NaN dout: to the winner only
        taken |= hit
    return dx


def relu_max_pool_forward(x, size=2, stride=2):
    """out = max_pool(max(x, 0)): ReLU then max pooling, the pair after each convolution of LeNet-5.
    Returns (out, (ReLU's cache, max pooling's cache)).

    The reference runs the two kernels one after the other. The compiled twin writes ReLU's output
    and pools it in one pass, a block of planes at a time; its values and caches are the same, and
    either backward takes them.
    """
    _pool_shape("relu_max_pool_forward", x, size, stride)
    return _relu_max_pool(x, size, stride)


def _relu_max_pool(x, size, stride):
    """(out, caches) of ReLU then max pooling of x, an image batch or a signal batch (pooled as images
    of height 1, ``size`` and ``stride`` as pairs); ReLU's cache keeps x's shape."""
    twin = _numba.twin("pool", x)
    if twin:
        return twin.relu_max_pool_forward(x, size, stride)
    y, relu_cache = relu_forward(x)
    out, pool_cache = max_pool_forward(y if y.ndim == 4 else y[:, :, None, :], size, stride)
    return out, (relu_cache, pool_cache)


def relu_max_pool_backward(dout, cache):
    """dx of :func:`relu_max_pool_forward`: max pooling's backward, then ReLU's. Each window's
    gradient reaches one value of y = max(x, 0), its maximum, and ReLU passes it on where that maximum
    is > 0; the compiled twin (both caches compiled) applies this in the pool's own pass."""
    return _relu_max_pool_backward(dout, cache, max_pool_backward)


def _relu_max_pool_backward(dout, cache, pool_backward):
    """dx of ReLU then max pooling: the compiled twin where both caches are compiled, else ReLU's
    backward of ``pool_backward`` (the image or the signal pool's) on the pool's cache."""
    compiled = _numba.fused_backward_twin("relu_max_pool", cache)
    if compiled:
        return compiled(dout, cache)
    relu_cache, pool_cache = cache
    return relu_backward(pool_backward(dout, pool_cache), relu_cache)


def avg_pool_forward(x, size=2, stride=2):
    """Mean pooling: out[n, c, i, j] = (1 / (kh*kw)) * sum_{a,b} x[n, c, i*sh + a, j*sw + b] over the kh x kw window."""
    (kh, kw), (sh, sw), (ho, wo) = _pool_shape("avg_pool_forward", x, size, stride)
    out = offset_view(x, 0, 0, ho, wo, sh, sw).copy()
    for k in range(1, kh * kw):
        out += offset_view(x, k // kw, k % kw, ho, wo, sh, sw)
    out /= x.dtype.type(kh * kw)
    return out, (x.shape, (kh, kw), (sh, sw))


def avg_pool_backward(dout, cache):
    """Each input in a window receives dout / (kh*kw) (summed over the windows that contain it)."""
    x_shape, (kh, kw), (sh, sw) = cache
    xp = array_module(dout)
    ho, wo = dout.shape[2], dout.shape[3]
    share = dout / dout.dtype.type(kh * kw)
    dx = xp.zeros(x_shape, dtype=dout.dtype)
    for k in range(kh * kw):
        offset_view(dx, k // kw, k % kw, ho, wo, sh, sw)[...] += share
    return dx


def global_avg_pool_forward(x):
    """Global average pooling: out[n, c] = (1 / (H*W)) * sum_{i,j} x[n, c, i, j]; (N,C,H,W) -> (N,C)."""
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool_forward: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    twin = _numba.twin("pool", x)
    if twin:
        return twin.global_avg_pool_forward(x)
    return x.mean(axis=(2, 3)), x.shape


def global_avg_pool_backward(dout, cache):
    """dx[n, c, i, j] = dout[n, c] / (H*W)."""
    compiled = _numba.backward_twin("global_avg_pool", cache)
    if compiled:
        return compiled(dout, cache)
    x_shape = cache
    xp = array_module(dout)
    dx = xp.empty(x_shape, dtype=dout.dtype)
    dx[...] = (dout / dout.dtype.type(x_shape[2] * x_shape[3]))[:, :, None, None]
    return dx


def _as_image(name, x, size, stride):
    """Signal x (N, C, L) as the image (N, C, 1, L), with the window (1, size) and stride (1, stride)."""
    if x.ndim != 3:
        raise ValueError(f"{name}: expected input of shape (N, C, L), got {tuple(x.shape)}")
    size, stride = single(size, "size"), single(stride, "stride")
    output_size(name, x.shape[2], size, stride, 0)  # a mistake named in the signal's terms
    return x[:, :, None, :], (1, size), (1, stride)


def max_pool1d_forward(x, size=2, stride=2):
    """1-D max pooling: out[n, c, j] = max_{k < size} x[n, c, j*stride + k]; (N, C, L) -> (N, C, Lo),
    Lo = (L - size) // stride + 1. :func:`max_pool_forward` on the height-1 image."""
    out, cache = max_pool_forward(*_as_image("max_pool1d_forward", x, size, stride))
    return out[:, :, 0, :], cache


def max_pool1d_backward(dout, cache):
    """dx (N, C, L): each window's gradient goes to its first maximum (:func:`max_pool_backward`)."""
    return max_pool_backward(dout[:, :, None, :], cache)[:, :, 0, :]


def relu_max_pool1d_forward(x, size=2, stride=2):
    """out = max_pool1d(max(x, 0)): :func:`relu_max_pool_forward` for signals (N, C, L); ReLU's cache
    keeps the signal's shape. Returns (out, (ReLU's cache, max pooling's cache))."""
    _, size, stride = _as_image("relu_max_pool1d_forward", x, size, stride)
    out, cache = _relu_max_pool(x, size, stride)
    return out[:, :, 0, :], cache


def relu_max_pool1d_backward(dout, cache):
    """dx (N, C, L) of :func:`relu_max_pool1d_forward` (:func:`relu_max_pool_backward`)."""
    return _relu_max_pool_backward(dout, cache, max_pool1d_backward)


def avg_pool1d_forward(x, size=2, stride=2):
    """1-D mean pooling: out[n, c, j] = (1 / size) * sum_{k < size} x[n, c, j*stride + k]."""
    out, cache = avg_pool_forward(*_as_image("avg_pool1d_forward", x, size, stride))
    return out[:, :, 0, :], cache


def avg_pool1d_backward(dout, cache):
    """dx (N, C, L): each input in a window receives dout / size (:func:`avg_pool_backward`)."""
    return avg_pool_backward(dout[:, :, None, :], cache)[:, :, 0, :]
