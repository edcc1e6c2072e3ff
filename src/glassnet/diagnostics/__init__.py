"""Diagnostics: numerical gradient checks, gradient flow, activation and weight sparsity."""
from .flow import activation_sparsity, fraction_below, gradient_flow, weight_grad_norms, weight_sparsity
from .gradcheck import GradcheckResult, check_function, check_loss, check_module, numerical_gradient, relative_error

__all__ = [
    "GradcheckResult", "check_function", "check_loss", "check_module", "numerical_gradient", "relative_error",
    "gradient_flow", "weight_grad_norms", "activation_sparsity", "weight_sparsity", "fraction_below",
]
