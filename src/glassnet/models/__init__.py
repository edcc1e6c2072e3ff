"""Model zoo: two_layer_net, classic_cnn, lenet5, vgg_small, resnet20, cnn1d (see :func:`build_model`), and the
MLP builder."""
from .zoo import MODELS, SIGNAL_MODELS, build_model, classic_cnn, cnn1d, lenet5, mlp, resnet20, two_layer_net, vgg_small

__all__ = ["MODELS", "SIGNAL_MODELS", "build_model", "classic_cnn", "cnn1d", "lenet5", "mlp", "resnet20",
           "two_layer_net", "vgg_small"]
