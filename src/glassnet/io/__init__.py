"""Files and interop: safe model save/load (safetensors + JSON, no pickle), atomic writes,
PyTorch conversion (``to_torch``/``from_torch``) and ONNX export (``to_onnx``).

PyTorch and onnx are optional: they are imported by the functions that need them, never here.
"""
from .model_file import architecture, build, load, save
from .onnx_export import to_onnx
from .tensors import ModelFileError
from .torch_interop import from_torch, to_torch

__all__ = ["save", "load", "architecture", "build", "ModelFileError", "to_torch", "from_torch", "to_onnx"]
