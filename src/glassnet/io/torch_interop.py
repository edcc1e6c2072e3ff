"""PyTorch interop: a glassnet Sequential as an equivalent ``torch.nn.Sequential``, and back.

``to_torch(model)`` builds the same network from ``torch.nn`` layers with the same weights and
batch-norm buffers (Linear weights transposed: glassnet stores ``(in, out)``, PyTorch
``(out, in)``); ``from_torch(module)`` imports a ``torch.nn.Sequential`` of supported layers. The
layer positions, hence the ``state_dict`` keys, are the same on both sides. glassnet's
``GlobalAvgPool2d`` (``(N, C, H, W) -> (N, C)``) becomes ``Sequential(AdaptiveAvgPool2d(1), Flatten())``
in PyTorch, and that pair (nested or as two consecutive layers) becomes ``GlobalAvgPool2d`` again
(likewise ``GlobalAvgPool1d`` and ``AdaptiveAvgPool1d``). ``nn.Residual`` becomes the small torch module
of :func:`torch_residual_class` (PyTorch has no residual container), with the same child names.

PyTorch is optional: it is imported inside these functions only.
"""
from __future__ import annotations

import numpy as np

from .. import backend, nn
from ..optional import TORCH_INSTALL, require

SUPPORTED_TORCH = (
    "Linear, Conv1d, Conv2d (any dilation and groups, zero padding), MaxPool1d/2d, AvgPool1d/2d, "
    "AdaptiveAvgPool1d/2d(1) followed by Flatten, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Dropout, "
    "BatchNorm1d, BatchNorm2d, nested Sequential, and the residual block made by to_torch"
)

# What each layer does to the rank of its input, to catch a Linear applied to (N, C, L) signals or
# (N, C, H, W) maps: glassnet's Linear flattens them, PyTorch's acts on the last axis only.
_MAKES_RANK = {nn.Conv2d: 4, nn.MaxPool2d: 4, nn.AvgPool2d: 4, nn.BatchNorm2d: 4,
               nn.Conv1d: 3, nn.MaxPool1d: 3, nn.AvgPool1d: 3,
               nn.Linear: 2, nn.Flatten: 2, nn.GlobalAvgPool2d: 2, nn.GlobalAvgPool1d: 2}
_torch_classes = {}


def _torch():
    return require("torch", "PyTorch interop", TORCH_INSTALL)


def torch_residual_class():
    """The ``torch.nn.Module`` twin of :class:`glassnet.nn.Residual` (made once, when PyTorch is first needed):
    ``Residual(body, shortcut=None)`` computes ``body(x) + shortcut(x)`` (identity shortcut when None),
    with the same child names, hence the same ``state_dict`` keys, as glassnet's."""
    if "Residual" not in _torch_classes:
        torch = _torch()

        class Residual(torch.nn.Module):
            """body(x) + shortcut(x), the shortcut being the identity when None (glassnet.nn.Residual)."""

            def __init__(self, body, shortcut=None):
                super().__init__()
                self.body = body
                self.shortcut = shortcut

            def forward(self, x):
                return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

        Residual.__module__ = __name__
        _torch_classes["Residual"] = Residual
    return _torch_classes["Residual"]


def _rank_after(layer, rank):
    """Rank of the output of ``layer`` given the input rank (None: unknown)."""
    if isinstance(layer, nn.Residual):
        return _rank_after(layer.body, rank)
    if isinstance(layer, nn.Sequential):
        for child in layer:
            rank = _rank_after(child, rank)
        return rank
    return _MAKES_RANK.get(type(layer), rank)


# ---------------------------------------------------------------------------------- glassnet -> torch
def _model_dtype(model):
    state = model.state_dict()
    dtypes = {np.dtype(v.dtype) for v in state.values()}
    if len(dtypes) > 1:
        raise ValueError(f"to_torch: the model mixes parameter dtypes {sorted(map(str, dtypes))}; cast it to one first")
    return dtypes.pop() if dtypes else np.dtype(backend.get_default_dtype())


def _tensor(torch, array, dtype):
    return torch.from_numpy(np.array(backend.to_numpy(array), dtype=dtype, copy=True))


def _layer_to_torch(torch, layer, dtype, rank):
    tnn = torch.nn
    if type(layer) is nn.Sequential:
        return _sequential_to_torch(torch, layer, dtype, rank)
    kind = type(layer)
    if kind is nn.Residual:
        shortcut = layer.shortcut
        return torch_residual_class()(_layer_to_torch(torch, layer.body, dtype, rank),
                                      _layer_to_torch(torch, shortcut, dtype, rank) if shortcut is not None else None)
    if kind is nn.Linear:
        if rank in (3, 4):
            raise ValueError(
                f"to_torch: {layer.describe()} follows a layer with (N, C, ...) outputs; glassnet's Linear flattens "
                "its input but PyTorch's acts on the last axis only - put a Flatten layer before it"
            )
        t = tnn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        params = {"weight": layer.weight.data.T, "bias": layer.bias.data if layer.bias is not None else None}
    elif kind in (nn.Conv1d, nn.Conv2d):
        t = (tnn.Conv1d if kind is nn.Conv1d else tnn.Conv2d)(
            layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride, padding=layer.padding,
            dilation=layer.dilation, groups=layer.groups, bias=layer.bias is not None)
        params = {"weight": layer.weight.data, "bias": layer.bias.data if layer.bias is not None else None}
    elif kind in (nn.BatchNorm1d, nn.BatchNorm2d):
        cls = tnn.BatchNorm1d if kind is nn.BatchNorm1d else tnn.BatchNorm2d
        t = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum)
        params = {"weight": layer.weight.data, "bias": layer.bias.data,
                  "running_mean": layer.running_mean, "running_var": layer.running_var}
    else:
        simple = {
            nn.MaxPool2d: lambda: tnn.MaxPool2d(layer.kernel_size, layer.stride),
            nn.AvgPool2d: lambda: tnn.AvgPool2d(layer.kernel_size, layer.stride),
            nn.MaxPool1d: lambda: tnn.MaxPool1d(layer.kernel_size, layer.stride),
            nn.AvgPool1d: lambda: tnn.AvgPool1d(layer.kernel_size, layer.stride),
            nn.GlobalAvgPool2d: lambda: tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten()),
            nn.GlobalAvgPool1d: lambda: tnn.Sequential(tnn.AdaptiveAvgPool1d(1), tnn.Flatten()),
            nn.Flatten: tnn.Flatten,
            nn.ReLU: tnn.ReLU,
            nn.Sigmoid: tnn.Sigmoid,
            nn.Tanh: tnn.Tanh,
            nn.LeakyReLU: lambda: tnn.LeakyReLU(layer.slope),
            nn.Softmax: lambda: tnn.Softmax(dim=layer.dim),
            nn.Dropout: lambda: tnn.Dropout(layer.p),
        }
        if kind not in simple:
            raise ValueError(
                f"to_torch: no PyTorch equivalent for {layer.describe()} (a {kind.__module__}.{kind.__name__})")
        return simple[kind]().to(_torch_dtype(torch, dtype))
    t = t.to(_torch_dtype(torch, dtype))
    with torch.no_grad():
        for name, value in params.items():
            if value is not None:
                getattr(t, name).copy_(_tensor(torch, value, dtype))
    return t


def _sequential_to_torch(torch, seq, dtype, rank):
    layers = []
    for layer in seq:
        layers.append(_layer_to_torch(torch, layer, dtype, rank))
        rank = _rank_after(layer, rank)
    return torch.nn.Sequential(*layers)


def _torch_dtype(torch, dtype):
    table = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
    if np.dtype(dtype) not in table:
        raise ValueError(f"unsupported dtype {dtype}: expected float32 or float64")
    return table[np.dtype(dtype)]


def to_torch(model):
    """An equivalent ``torch.nn.Sequential`` with copies of ``model``'s weights and BN buffers.

    ``model`` is a glassnet ``Sequential`` (a single layer is wrapped in one). The PyTorch model has
    the dtype of the glassnet weights, the same ``state_dict`` keys (Linear weights transposed) and
    the same train/eval mode. Raises ValueError for a layer without a PyTorch equivalent.
    """
    torch = _torch()
    seq = model if isinstance(model, nn.Sequential) else nn.Sequential(model)
    dtype = _model_dtype(seq)
    out = _sequential_to_torch(torch, seq, dtype, None)
    return out.train(model.training)


# ---------------------------------------------------------------------------------- torch -> glassnet
def _np(tensor):
    return tensor.detach().cpu().numpy()


def _torch_module_dtype(torch, module):
    dtypes = {t.dtype for t in list(module.parameters()) + list(module.buffers()) if t.is_floating_point()}
    names = {torch.float32: np.float32, torch.float64: np.float64}
    if not dtypes:
        return np.dtype(backend.get_default_dtype())
    if len(dtypes) > 1 or next(iter(dtypes)) not in names:
        raise ValueError(
            f"from_torch: parameters must all be float32 or float64, got {sorted(map(str, dtypes))}")
    return np.dtype(names[dtypes.pop()])


def _gap_pair(torch, a, b):
    """The glassnet global-pooling class that the two torch layers (a, b) amount to, or None:
    AdaptiveAvgPool2d(1) or AdaptiveAvgPool1d(1) followed by Flatten()."""
    tnn = torch.nn
    if not (type(b) is tnn.Flatten and b.start_dim == 1 and b.end_dim == -1):
        return None
    if type(a) is tnn.AdaptiveAvgPool2d and a.output_size in (1, (1, 1)):
        return nn.GlobalAvgPool2d
    if type(a) is tnn.AdaptiveAvgPool1d and a.output_size in (1, (1,)):
        return nn.GlobalAvgPool1d
    return None


def _refuse(where, module, why):
    raise ValueError(f"from_torch: layer '{where}' {module!r} is not supported: {why}. Supported: {SUPPORTED_TORCH}")


def _check_defaults(where, module, **allowed):
    """Refuse ``module`` unless each attribute has one of its ``allowed`` values (a tuple of choices)."""
    for attr, choices in allowed.items():
        got = getattr(module, attr)
        if got not in choices:
            _refuse(where, module, f"{attr}={got!r} (supported: {' or '.join(map(repr, choices))})")


def _copy(param, tensor):
    param[...] = np.asarray(_np(tensor), dtype=param.dtype)


def _layer_from_torch(torch, m, where, rank):
    tnn = torch.nn
    kind = type(m)
    if kind is torch_residual_class():
        body, _ = _module_from_torch(torch, m.body, f"{where}.body", rank)
        shortcut = _module_from_torch(torch, m.shortcut, f"{where}.shortcut", rank)[0] if m.shortcut is not None else None
        return nn.Residual(body, shortcut)
    if kind is tnn.Linear:
        if rank in (3, 4):
            _refuse(where, m, "it follows a layer with (N, C, ...) outputs and PyTorch's Linear then acts on the "
                    "last axis only (glassnet's flattens): put an nn.Flatten() before it")
        g = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        _copy(g.weight.data, m.weight.T)
        if m.bias is not None:
            _copy(g.bias.data, m.bias)
        return g
    if kind in (tnn.Conv1d, tnn.Conv2d):
        if isinstance(m.padding, str):
            _refuse(where, m, f"padding={m.padding!r} (give the padding as numbers)")
        _check_defaults(where, m, padding_mode=("zeros",))
        g = (nn.Conv1d if kind is tnn.Conv1d else nn.Conv2d)(
            m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding, dilation=m.dilation,
            groups=m.groups, bias=m.bias is not None)
        _copy(g.weight.data, m.weight)
        if m.bias is not None:
            _copy(g.bias.data, m.bias)
        return g
    pools = {tnn.MaxPool2d: nn.MaxPool2d, tnn.AvgPool2d: nn.AvgPool2d, tnn.MaxPool1d: nn.MaxPool1d,
             tnn.AvgPool1d: nn.AvgPool1d}
    if kind in pools:
        _check_defaults(where, m, padding=(0, (0,), (0, 0)), ceil_mode=(False,))
        if kind in (tnn.MaxPool1d, tnn.MaxPool2d):
            _check_defaults(where, m, dilation=(1, (1,), (1, 1)), return_indices=(False,))
        elif kind is tnn.AvgPool2d:
            _check_defaults(where, m, divisor_override=(None,))
        stride = m.stride if m.stride not in (None, (), []) else m.kernel_size
        return pools[kind](m.kernel_size, stride)
    if kind is tnn.Flatten:
        if (m.start_dim, m.end_dim) != (1, -1):
            _refuse(where, m, f"start_dim={m.start_dim}, end_dim={m.end_dim} (only 1, -1)")
        return nn.Flatten()
    if kind in (tnn.BatchNorm1d, tnn.BatchNorm2d):
        if not m.track_running_stats or m.running_mean is None:
            _refuse(where, m, "track_running_stats=False (glassnet evaluates with running statistics)")
        if m.momentum is None:
            _refuse(where, m, "momentum=None (a cumulative average; glassnet uses an exponential one)")
        cls = nn.BatchNorm1d if kind is tnn.BatchNorm1d else nn.BatchNorm2d
        g = cls(m.num_features, eps=m.eps, momentum=m.momentum)
        if m.affine:
            _copy(g.weight.data, m.weight)
            _copy(g.bias.data, m.bias)
        _copy(g.running_mean, m.running_mean)
        _copy(g.running_var, m.running_var)
        return g
    if kind is tnn.Softmax:
        return nn.Softmax(dim=1 if m.dim is None else m.dim)
    if kind is tnn.LeakyReLU:
        return nn.LeakyReLU(m.negative_slope)
    if kind is tnn.Dropout:
        return nn.Dropout(m.p)
    simple = {tnn.ReLU: nn.ReLU, tnn.Sigmoid: nn.Sigmoid, tnn.Tanh: nn.Tanh}
    if kind in simple:
        return simple[kind]()
    if kind in (tnn.AdaptiveAvgPool1d, tnn.AdaptiveAvgPool2d):
        _refuse(where, m, f"{kind.__name__} is supported only as output_size=1 directly followed by nn.Flatten() "
                "(global average pooling)")
    _refuse(where, m, f"no glassnet equivalent for {kind.__module__}.{kind.__name__}")


def _module_from_torch(torch, m, where, rank):
    """(glassnet module, rank of its output) for the torch module ``m`` (a Sequential or one layer)."""
    if type(m) is torch.nn.Sequential:
        return _sequential_from_torch(torch, m, f"{where}.", rank)
    layer = _layer_from_torch(torch, m, where, rank)
    return layer, _rank_after(layer, rank)


def _sequential_from_torch(torch, seq, prefix, rank):
    children = list(seq.named_children())
    if len(children) == 2 and _gap_pair(torch, children[0][1], children[1][1]):
        return _gap_pair(torch, children[0][1], children[1][1])(), 2
    layers, i = [], 0
    while i < len(children):
        name, m = children[i]
        gap = _gap_pair(torch, m, children[i + 1][1]) if i + 1 < len(children) else None
        if gap is not None:
            # Two consecutive layers become one: the glassnet indices (and keys) shift from here on.
            layers.append(gap())
            rank, i = 2, i + 2
            continue
        layer, rank = _module_from_torch(torch, m, f"{prefix}{name}", rank)
        layers.append(layer)
        i += 1
    return nn.Sequential(*layers), rank


def from_torch(module):
    """A glassnet ``Sequential`` equivalent to the ``torch.nn.Sequential`` ``module`` (weights copied).

    Supported layers: see :data:`SUPPORTED_TORCH`; anything else (another module class, padded or
    ceil-mode pooling, ...) raises ValueError naming the layer. The glassnet
    model gets the dtype of the PyTorch parameters and the module's train/eval mode.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(module).__name__}")
    if type(module) is not torch.nn.Sequential:
        module = torch.nn.Sequential(module)
    with backend.default_dtype(_torch_module_dtype(torch, module)):
        model, _ = _sequential_from_torch(torch, module, "", None)
    if not isinstance(model, nn.Sequential):
        model = nn.Sequential(model)
    return model.train(module.training)
