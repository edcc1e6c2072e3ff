"""Diagnostics: numerical gradient checks, gradient flow, sparsity."""
from .gradcheck import GradcheckResult, check_function, check_loss, check_module, numerical_gradient, relative_error

__all__ = ["GradcheckResult", "check_function", "check_loss", "check_module", "numerical_gradient", "relative_error"]
