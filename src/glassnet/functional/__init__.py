"""Pure forward/backward kernels (no state). Each ``NAME_forward`` returns ``(out, cache)`` and
``NAME_backward(dout, cache)`` returns the gradients in input order. Losses return ``(loss, dscores)``.
"""
from .activation import (
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid,
    sigmoid_backward,
    sigmoid_forward,
    softmax,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .add import add_backward, add_forward, add_relu_backward, add_relu_forward
from .conv import conv1d_backward, conv1d_forward, conv_backward, conv_forward
from .dropout import dropout_backward, dropout_forward
from .layer_utils import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from .linear import affine_backward, affine_forward
from .loss import bce_loss, bce_with_logits_loss, mse_loss, softmax_loss, svm_loss
from .norm import batchnorm_backward, batchnorm_forward, batchnorm_relu_backward, batchnorm_relu_forward
from ._windows import output_size, pair, single, spatial
from .pool import (
    avg_pool1d_backward,
    avg_pool1d_forward,
    avg_pool_backward,
    avg_pool_forward,
    global_avg_pool_backward,
    global_avg_pool_forward,
    max_pool1d_backward,
    max_pool1d_forward,
    max_pool_backward,
    max_pool_forward,
    relu_max_pool1d_backward,
    relu_max_pool1d_forward,
    relu_max_pool_backward,
    relu_max_pool_forward,
)

__all__ = [name for name in dir() if name.endswith(("_forward", "_backward", "_loss")) or name in ("sigmoid", "softmax", "pair", "single", "spatial", "output_size")]
