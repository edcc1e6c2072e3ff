"""ONNX export of a glassnet Sequential, built node by node with the ``onnx`` helper API (no PyTorch).

Each layer becomes the ONNX operator that computes the same function in evaluation mode:

==================  ==========================================================================
glassnet            ONNX
==================  ==========================================================================
Conv2d, Conv1d      Conv (pads = [ph, pw, ph, pw] / [p, p], dilations, group)
MaxPool2d/1d        MaxPool          AvgPool2d/1d  AveragePool   (no padding, floor mode)
GlobalAvgPool2d/1d  GlobalAveragePool -> Flatten(axis=1)      ((N, C, 1, 1) or (N, C, 1) -> (N, C))
Residual            the body's nodes, the shortcut's nodes (none for the identity), then Add
Flatten             Flatten(axis=1)
Linear              Gemm(x, W, b) with W stored (in, out) as glassnet keeps it (a Flatten first
                    when its input may have more than two axes, since glassnet's Linear flattens)
ReLU, LeakyReLU,    Relu, LeakyRelu(alpha=slope), Sigmoid, Tanh, Softmax(axis=dim)
Sigmoid, Tanh,
Softmax
BatchNorm1d/2d      BatchNormalization (inference: running mean and variance, epsilon)
Dropout             nothing (the identity at evaluation)
==================  ==========================================================================

The graph has one input ``"input"`` of shape ``("N", *input_shape)`` and one output ``"output"``,
float32, with a dynamic batch axis ``N``. Weights are stored as float32 initializers named like
the glassnet ``state_dict`` keys. The file is checked with ``onnx.checker`` and written atomically.
"""
from __future__ import annotations

import json

import numpy as np

from .. import backend, nn
from ..errors import InputError, MissingPackageError, option_error
from ..functional import spatial
from .atomic import atomic_path

DEFAULT_OPSET = 17
MIN_OPSET = 13  # the operators are written with opset-13 semantics (Softmax over one axis, not a 2-D coercion)
_IR_VERSION = 8  # the IR version that goes with opset 17 (readable by onnxruntime >= 1.13)
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.Softmax)


def _onnx():
    try:
        import onnx  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise MissingPackageError("ONNX export needs the onnx package: pip install glassnet[onnx]") from exc
    return onnx


def infer_input_shape(model) -> tuple | None:
    """The input shape (without the batch axis) that ``model`` itself determines, or None.

    A model whose first layer with a fixed input size (after element-wise layers and BatchNorm1d,
    which takes (N, C) as well as (N, C, L)) is a Linear takes ``(in_features,)`` vectors; anything
    else (convolutions, pooling, a leading Flatten of an unknown image shape) cannot tell.
    """
    for layer in nn.leaf_layers(model):
        if isinstance(layer, nn.Linear):
            return (layer.in_features,)
        if not isinstance(layer, (*_ELEMENTWISE, nn.BatchNorm1d)):
            return None
    return None



class _Graph:
    """Collects nodes and float32 initializers while the layers are walked in order."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.initializers, self.count = onnx, [], [], 0

    def constant(self, name, array):
        host = np.ascontiguousarray(backend.to_numpy(array), dtype=np.float32)
        self.initializers.append(self.onnx.numpy_helper.from_array(host, name=name))
        return name

    def node(self, op, inputs, where, **attrs):
        self.count += 1
        out = f"{where or 'model'}/{op}_{self.count}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _emit(g: _Graph, layer, x: str, rank, prefix: str):
    """Add the nodes of ``layer`` applied to tensor ``x`` (of rank ``rank``); return (output, rank)."""
    if type(layer) is nn.Sequential:
        for name, child in layer.named_children():
            x, rank = _emit(g, child, x, rank, f"{prefix}{name}.")
        return x, rank
    where = prefix[:-1]
    kind = type(layer)
    if kind is nn.Residual:
        y, out_rank = _emit(g, layer.body, x, rank, f"{prefix}body.")
        s = x if layer.shortcut is None else _emit(g, layer.shortcut, x, rank, f"{prefix}shortcut.")[0]
        return g.node("Add", [y, s], where), out_rank
    if kind in (nn.Conv1d, nn.Conv2d):
        inputs = [x, g.constant(f"{prefix}weight", layer.weight.data)]
        if layer.bias is not None:
            inputs.append(g.constant(f"{prefix}bias", layer.bias.data))
        pads = list(spatial(layer.padding))
        return g.node("Conv", inputs, where, kernel_shape=list(spatial(layer.kernel_size)),
                      strides=list(spatial(layer.stride)), pads=pads + pads, dilations=list(spatial(layer.dilation)),
                      group=layer.groups), 2 + len(pads)
    if kind in (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d):
        op = "MaxPool" if kind in (nn.MaxPool1d, nn.MaxPool2d) else "AveragePool"
        kernel = list(spatial(layer.kernel_size))
        return g.node(op, [x], where, kernel_shape=kernel, strides=list(spatial(layer.stride))), 2 + len(kernel)
    if kind in (nn.GlobalAvgPool1d, nn.GlobalAvgPool2d):
        return g.node("Flatten", [g.node("GlobalAveragePool", [x], where)], where, axis=1), 2
    if kind is nn.Flatten:
        return g.node("Flatten", [x], where, axis=1), 2
    if kind is nn.Linear:
        if rank != 2:  # glassnet's Linear flattens (N, ...) inputs; Gemm needs a matrix
            x = g.node("Flatten", [x], where, axis=1)
        inputs = [x, g.constant(f"{prefix}weight", layer.weight.data)]
        if layer.bias is not None:
            inputs.append(g.constant(f"{prefix}bias", layer.bias.data))
        return g.node("Gemm", inputs, where), 2
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d):
        inputs = [x] + [g.constant(f"{prefix}{k}", v) for k, v in (
            ("weight", layer.weight.data), ("bias", layer.bias.data),
            ("running_mean", layer.running_mean), ("running_var", layer.running_var))]
        return g.node("BatchNormalization", inputs, where, epsilon=layer.eps), rank
    if kind is nn.Dropout:
        return x, rank
    if kind is nn.ReLU:
        return g.node("Relu", [x], where), rank
    if kind is nn.LeakyReLU:
        return g.node("LeakyRelu", [x], where, alpha=layer.slope), rank
    if kind is nn.Sigmoid:
        return g.node("Sigmoid", [x], where), rank
    if kind is nn.Tanh:
        return g.node("Tanh", [x], where), rank
    if kind is nn.Softmax:
        return g.node("Softmax", [x], where, axis=layer.dim), rank
    raise InputError(f"to_onnx: no ONNX export for {layer.describe()} ({kind.__module__}.{kind.__name__})")


def _output_shape(model, input_shape):
    """Run one zero sample through ``model`` in eval mode: checks input_shape, gives the output shape."""
    xp = backend.get_xp()
    dtype = next((p.dtype for p in model.parameters()), backend.get_default_dtype())
    was_training = model.training
    model.eval()
    try:
        with model.no_grad():  # keeps no forward cache
            out = model.forward(xp.zeros((1, *input_shape), dtype=dtype))
    except ValueError as exc:
        raise InputError(f"to_onnx: the model does not accept inputs of shape {tuple(input_shape)} "
                         f"(without the batch axis): {exc}") from exc
    finally:
        model.train(was_training)
    return tuple(out.shape[1:])


def check_opset(opset: int, onnx=None):
    """Refuse an opset outside ``MIN_OPSET`` .. the newest the installed onnx package knows."""
    onnx = onnx or _onnx()
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise option_error("opset", f"must lie in {MIN_OPSET}..{newest} (the exported operators need opset "
                                    f">= {MIN_OPSET}; onnx {onnx.__version__} knows up to {newest}), got {opset}")


def build_onnx(model, input_shape=None, opset: int = DEFAULT_OPSET, metadata: dict | None = None):
    """The ``onnx.ModelProto`` of ``model`` (see the module docstring), checked with onnx.checker."""
    onnx = _onnx()
    check_opset(opset, onnx)
    helper, TensorProto = onnx.helper, onnx.TensorProto
    seq = model if isinstance(model, nn.Sequential) else nn.Sequential(model)
    if input_shape is None:
        input_shape = infer_input_shape(seq)
        if input_shape is None:
            first = next(nn.leaf_layers(seq), None)
            raise InputError(
                f"to_onnx: the input shape cannot be told from the model (it starts with "
                f"{first.describe() if first is not None else 'nothing'}); pass input_shape without the batch "
                "axis, e.g. input_shape=(1, 28, 28)"
            )
    input_shape = tuple(int(d) for d in input_shape)
    out_shape = _output_shape(seq, input_shape)
    g = _Graph(onnx)
    out, _ = _emit(g, seq, "input", 1 + len(input_shape), "")
    if out == "input":  # a model of Dropout layers only: the graph still needs a node
        out = g.node("Identity", [out], "model")
    g.nodes[-1].output[0] = "output"
    graph = helper.make_graph(
        g.nodes, "glassnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *input_shape])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", *out_shape])],
        initializer=g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))],
                              producer_name="glassnet", doc_string=repr(model))
    proto.ir_version = _IR_VERSION
    if metadata:
        helper.set_model_props(proto, {str(k): json.dumps(v) for k, v in metadata.items()})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def to_onnx(model, path, input_shape=None, opset: int = DEFAULT_OPSET, metadata: dict | None = None):
    """Export ``model`` (a glassnet Sequential) to the ONNX file ``path``; return the ModelProto.

    ``input_shape`` is one sample's shape without the batch axis, e.g. ``(1, 28, 28)``; it may be left
    out when the model starts with a Linear (or BatchNorm1d) layer, which knows its input size. The
    batch axis is dynamic. The graph computes the model's evaluation-mode output in float32 (float64
    weights are rounded to float32). ``metadata`` (JSON-able values) goes into the file's
    ``metadata_props``, each value JSON-encoded. Raises ValueError for a layer ONNX export does not know.
    """
    onnx = _onnx()
    proto = build_onnx(model, input_shape, opset, metadata)
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return proto
