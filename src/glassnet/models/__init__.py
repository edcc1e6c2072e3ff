"""Model zoo: two_layer_net, classic_cnn, lenet5, vgg_small (see :func:`build_model`), and the MLP builder."""
from .zoo import MODELS, build_model, classic_cnn, lenet5, mlp, two_layer_net, vgg_small

__all__ = ["MODELS", "build_model", "classic_cnn", "lenet5", "mlp", "two_layer_net", "vgg_small"]
