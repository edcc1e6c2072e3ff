"""Parameter, Module and Sequential: the containers every layer is built from.

A :class:`Module` computes ``forward(x)`` and, after it, ``backward(dout) -> dx``; backward adds
the gradient of each of its parameters into ``Parameter.grad`` (so gradients of several backward
passes accumulate until :meth:`Module.zero_grad`). Attributes that are Parameters, Modules or
registered buffers are found automatically, as in PyTorch, and named the same way
(``"0.weight"``, ``"3.running_mean"``).
"""
from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from .. import backend


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape and dtype, starts at zero)."""

    def __init__(self, data):
        xp = backend.array_module(data)
        self.data = data
        self.grad = xp.zeros_like(data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def zero_grad(self):
        """Reset the gradient to zero in place."""
        self.grad[...] = 0

    def __repr__(self):
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses implement ``forward(x)`` (keeping what backward needs) and ``backward(dout)``
    returning ``dx`` and accumulating ``p.grad`` for their own parameters.
    """

    can_skip_input_grad = False
    """True where ``backward`` takes ``need_input_grad=False`` and then skips computing dx."""

    saves_as = None
    """The layer class a model file records for this module; None: its own class. A runtime variant
    (the synchronised batch norm of glassnet.distributed) saves as the plain layer it replaces."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "grad_enabled", True)
        object.__setattr__(self, "_name", "")

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for table in (self._parameters, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def replace(self, name: str, module):
        """Put ``module`` in place of child ``name``: same position, same name in error messages."""
        if name not in self._modules:
            raise KeyError(f"{type(self).__name__} has no child {name!r}")
        object.__setattr__(module, "_name", self._modules[name]._name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_buffer(self, name: str, array):
        """Register a non-trainable array (e.g. BN running statistics) saved in the state_dict."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ---------------------------------------------------------------- computation
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x):
        return self.forward(x)

    def fuses_with(self, layer) -> bool:
        """Whether a Sequential runs this layer and ``layer``, the one after it, as one fused pair:
        ``forward_fused(x, layer)`` and ``backward_fused(dout, layer)`` give the same outputs,
        gradients and per-layer caches as the two layers one after the other, in fewer passes over
        memory. Batch norm followed by ReLU fuses, a residual block's sum followed by ReLU, and
        ReLU followed by a max pool; nothing else does."""
        return False

    def _runs_own_pass_of(self, base) -> bool:
        """Whether this layer runs ``base``'s own forward and backward (no subclass changed either): a
        fused pair replaces both, so a layer that changed them must not fuse."""
        kind = type(self)
        return kind.forward is base.forward and kind.backward is base.backward

    # ---------------------------------------------------------------- traversal
    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix: str = ""):
        """Yield ``(name, module)`` for this module and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = ""):
        """Yield ``(dotted_name, Parameter)`` for every parameter, in registration order."""
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = ""):
        for mod_name, mod in self.named_modules(prefix):
            for name, b in mod._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return int(sum(p.size for p in self.parameters()))

    # ---------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True):
        """Switch this module and its children to training (or, with False, evaluation) mode."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: dropout is the identity, batch norm uses its running statistics."""
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    @contextmanager
    def no_grad(self):
        """Inference without backward: ``with model.no_grad(): scores = model(x)``.

        Layers keep no forward cache inside the block (like ``torch.inference_mode``), so the memory
        of a forward pass is that of the activations alone; backward raises there. Restores the
        previous setting of every module on exit.
        """
        saved = [(m, m.grad_enabled) for m in self.modules()]
        for m, _ in saved:
            object.__setattr__(m, "grad_enabled", False)
        try:
            yield self
        finally:
            for m, enabled in saved:
                object.__setattr__(m, "grad_enabled", enabled)

    def apply(self, fn):
        """Call ``fn(module)`` on every module (children first), return self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, device: str | None = None, dtype=None):
        """Move parameters (data and grad) and buffers to ``device`` ("cpu" or "cuda") and/or cast them
        to ``dtype`` (e.g. ``np.float64``), in place, as ``torch.nn.Module.to`` does; returns self."""
        def convert(a):
            a = a if device is None else backend.to_device(a, device)
            return a if dtype is None else a.astype(dtype, copy=False)

        for m in self.modules():
            for p in m._parameters.values():
                p.data, p.grad = convert(p.data), convert(p.grad)
            for name, b in list(m._buffers.items()):
                m.register_buffer(name, convert(b))
        return self

    # ---------------------------------------------------------------- state
    def state_dict(self) -> "OrderedDict[str, object]":
        """Parameters and buffers by dotted name (the arrays themselves, not copies)."""
        state = OrderedDict()
        for mod_name, mod in self.named_modules():
            for name, p in mod._parameters.items():
                state[f"{mod_name}.{name}" if mod_name else name] = p.data
            for name, b in mod._buffers.items():
                state[f"{mod_name}.{name}" if mod_name else name] = b
        return state

    def load_state_dict(self, state, strict: bool = True):
        """Copy arrays from ``state`` into this module's parameters and buffers, in place.

        Raises ValueError naming the missing, unexpected and mis-shaped keys (shapes are always
        checked; with ``strict=False`` missing and unexpected keys are tolerated). A PyTorch state
        dict (``torch.Tensor`` values) is refused: its Linear weights are (out, in), glassnet's
        (in, out), and a square one would load transposed without a shape error; convert the
        PyTorch module with :func:`glassnet.io.from_torch` instead.
        """
        tensors = [k for k, v in state.items() if type(v).__module__.startswith("torch")]
        if tensors:
            raise TypeError(
                f"load_state_dict into {type(self).__name__}: {tensors[0]!r} is a torch.Tensor - this looks like a "
                "PyTorch state dict, whose Linear weights are (out, in) where glassnet stores (in, out); "
                "convert the PyTorch module with glassnet.io.from_torch(module) instead"
            )
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems = []
        for k, target in own.items():
            if k in state and tuple(np.shape(state[k])) != tuple(target.shape):
                problems.append(
                    f"  {k}: expected shape {tuple(target.shape)}, got {tuple(np.shape(state[k]))}"
                    f" (layer '{k.rsplit('.', 1)[0] if '.' in k else type(self).__name__}')"
                )
        if strict and missing:
            problems.append("  missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("  unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__} failed:\n" + "\n".join(problems))
        for k, target in own.items():
            if k in state:
                xp = backend.array_module(target)
                target[...] = xp.asarray(backend.to_numpy(state[k]) if xp is np else state[k], dtype=target.dtype)
        return self

    # ---------------------------------------------------------------- description
    def describe(self) -> str:
        """How error messages name this layer: its position in the model and its repr."""
        head = self.extra_repr()
        where = f"layer '{self._name}' " if self._name else ""
        return f"{where}{type(self).__name__}({head})"

    def extra_repr(self) -> str:
        return ""

    def _rename(self, prefix: str = ""):
        """Give every descendant its dotted name (used in error messages); containers call it when built."""
        for name, m in self.named_modules(prefix):
            object.__setattr__(m, "_name", name)

    def get_config(self) -> dict:
        """Constructor arguments that rebuild this layer (used by glassnet.io; JSON-serialisable)."""
        return {}

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def summary(self, input_shape) -> str:
        """A table of layers with output shapes and parameter counts for an input of ``input_shape``.

        ``input_shape`` excludes the batch axis, e.g. ``(1, 28, 28)``. The forward runs in eval
        mode on a batch of one zero image, so it changes no statistics.
        """
        from .summary import summarize  # noqa: PLC0415 - avoids an import cycle

        return summarize(self, input_shape)


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse. Children are named "0", "1", …"""

    can_skip_input_grad = True

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {i} is {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)
        self._rename()

    def __getitem__(self, idx):
        layers = list(self._modules.values())
        return layers[idx]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer: Module):
        setattr(self, str(len(self)), layer)
        self._rename()
        return self

    def forward(self, x):
        """The layers in order; a pair that fuses (:meth:`Module.fuses_with`: batch norm or a residual
        block, then ReLU; ReLU, then a max pool) runs as one."""
        layers = list(self._modules.values())
        i = 0
        while i < len(layers):
            if i + 1 < len(layers) and layers[i].fuses_with(layers[i + 1]):
                x = layers[i].forward_fused(x, layers[i + 1])
                i += 2
            else:
                x = layers[i].forward(x)
                i += 1
        return x

    def backward(self, dout, need_input_grad=True):
        """Backward through the layers in reverse order (a pair that fuses as one); returns dx.

        With ``need_input_grad=False`` (a training step, where nothing consumes the gradient of the
        network's input) the layers before the first one with parameters are skipped, and that layer
        is spared its input gradient where it supports this (Linear, Conv2d, nested Sequentials); returns None.
        """
        layers = list(self._modules.values())
        first = 0
        if not need_input_grad:
            first = next((i for i, m in enumerate(layers) if m.num_parameters()), len(layers))
        i = len(layers) - 1
        while i >= first:
            layer = layers[i]
            if i - 1 >= first and layers[i - 1].fuses_with(layer):
                dout = layers[i - 1].backward_fused(dout, layer)
                i -= 2
                continue
            if i == first and not need_input_grad and layer.can_skip_input_grad:
                return layer.backward(dout, need_input_grad=False)
            dout = layer.backward(dout)
            i -= 1
        return None if not need_input_grad else dout


def named_leaf_layers(model, prefix: str = ""):
    """``(dotted name, layer)`` for the layers of ``model`` in execution order, nested Sequentials
    flattened (a non-Sequential is one layer; a model that is one layer is named after its type)."""
    if not isinstance(model, Sequential):
        yield prefix or type(model).__name__, model
        return
    for name, child in model.named_children():
        yield from named_leaf_layers(child, f"{prefix}.{name}" if prefix else name)


def leaf_layers(model):
    """The layers of ``model`` in execution order (:func:`named_leaf_layers` without the names)."""
    for _, layer in named_leaf_layers(model):
        yield layer
