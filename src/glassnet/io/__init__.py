"""Files: safe model save/load (safetensors + JSON, no pickle) and atomic writes."""
from .model_file import architecture, build, load, save
from .tensors import ModelFileError

__all__ = ["save", "load", "architecture", "build", "ModelFileError"]
