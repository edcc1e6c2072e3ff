"""glassnet's answers to the exercises: the functional kernels, plus the three exercises that have
no kernel of their own, built from glassnet's parts (``glassnet.optim``, ``glassnet.functional``).

A learner file that does ``from glassnet.exercises.reference import *`` passes every exercise.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional import *  # noqa: F401,F403 - the layer and loss answers are the kernels themselves
from ..nn.module import Parameter
from ..optim import L2, SGD, Adam


def _one_step(optimizer_class, w, dw, config, hyper, state_names):
    """One step of a glassnet optimizer on a copy of ``w``, its state read from and written to ``config``."""
    config = dict(config or {})
    p = Parameter(np.array(w, copy=True))
    p.grad = np.array(dw, dtype=p.data.dtype, copy=True)
    opt = optimizer_class([p], **{k: config.get(k, v) for k, v in hyper.items()})
    step = config.get("step", 0)
    opt.step_count = step
    opt.state[0] = {k: np.array(config[k], copy=True) for k in state_names if k in config}
    opt.step()
    config.update(opt.state[0])
    if "step" in state_names:
        config["step"] = opt.step_count
    return p.data, config


def sgd_momentum(w, dw, config=None):
    """One step of glassnet.optim.SGD with momentum (see the exercise's docstring)."""
    return _one_step(SGD, w, dw, config, {"lr": 1e-2, "momentum": 0.9}, ("momentum_buffer",))


def adam(w, dw, config=None):
    """One step of glassnet.optim.Adam (see the exercise's docstring)."""
    return _one_step(Adam, w, dw, config, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8},
                     ("exp_avg", "exp_avg_sq", "step"))


def two_layer_net_loss(params, X, y=None, reg=0.0):
    """Affine - ReLU - affine - softmax loss with glassnet's L2 penalty 0.5 * reg * sum W^2 on W1, W2."""
    hidden, cache1 = F.affine_forward(X, params["W1"], params["b1"])
    h, cache_relu = F.relu_forward(hidden)
    scores, cache2 = F.affine_forward(h, params["W2"], params["b2"])
    if y is None:
        return scores
    loss, dscores = F.softmax_loss(scores, y)
    dh, dW2, db2 = F.affine_backward(dscores, cache2)
    dX, dW1, db1 = F.affine_backward(F.relu_backward(dh, cache_relu), cache1)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    weights = {k: Parameter(params[k]) for k in ("W1", "W2")}
    for k, p in weights.items():
        p.grad = grads[k]
    loss += L2(reg).apply(list(weights.values()))   # adds reg * W into each weight's grad
    return loss, grads


def get(name):
    """The reference implementation of function ``name``."""
    return globals()[name]
