"""Export a trained run (or a glassnet model file) to ONNX: a float32 graph with a dynamic batch axis,
checked with onnx.checker, that onnxruntime and other ONNX runtimes can execute.

The input shape comes from the run's metadata (``input_shape`` saved by ``glassnet train``); give
``--input-shape C H W`` for a model file without it. The exported graph takes inputs normalised the
way the run's training data was: the run's metadata (classes, mean, std, ...) is copied into the ONNX
file's metadata_props, each value as JSON.
"""
from __future__ import annotations

from pathlib import Path

from .. import io
from ..errors import InputError, MissingInputError
from ..train.run import run_model_path

HELP = "export a trained run (or a .safetensors model file) to ONNX"


def add_arguments(p):
    p.add_argument("source", metavar="RUN_DIR",
                   help="a run directory written by `glassnet train`, or a model .safetensors file")
    p.add_argument("output", help="the ONNX file to write, e.g. model.onnx")
    p.add_argument("--input-shape", type=int, nargs="+", default=None, metavar="DIM",
                   help="one sample's shape without the batch axis (default: the run's input_shape)")
    p.add_argument("--opset", type=int, default=io.onnx_export.DEFAULT_OPSET, help="ONNX opset version")


def model_path(source) -> Path:
    """The model file of a run directory (or the file itself)."""
    source = Path(source)
    if source.is_dir():
        return run_model_path(source)
    if not source.is_file():
        raise MissingInputError(f"{source}: no such run directory or model file")
    return source


def run(args) -> int:
    path = model_path(args.source)
    model, meta = io.load(path, return_metadata=True)
    if args.input_shape is not None and min(args.input_shape) < 1:
        raise InputError(f"--input-shape sizes must be >= 1, got {' '.join(map(str, args.input_shape))}")
    io.onnx_export.check_opset(args.opset)
    shape = args.input_shape or meta.get("input_shape") or io.onnx_export.infer_input_shape(model)
    if shape is None:
        raise InputError(f"{path}: the model's metadata has no input_shape and the model cannot tell it; "
                         "give --input-shape, e.g. --input-shape 1 28 28")
    io.to_onnx(model.eval(), args.output, input_shape=shape, opset=args.opset, metadata=meta)
    print(f"exported {path} to {args.output} (ONNX opset {args.opset}, input 'input' of shape "
          f"(N, {', '.join(map(str, shape))}), output 'output')")
    return 0
