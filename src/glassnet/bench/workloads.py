"""The benchmark workloads: a glassnet model, its PyTorch twin with the same weights, a batch, a step.

Every workload is a small network at a fixed batch size, run either as a *training step*
(forward, softmax cross-entropy, backward, SGD with momentum 0.9) or as *inference* (forward in
eval mode; PyTorch under ``torch.inference_mode``). The PyTorch twin is built layer by layer from
the glassnet model (one torch module per glassnet layer, so per-layer profiles line up) and gets a
copy of the glassnet weights, so both sides compute the same function on the same data.

PyTorch is imported inside :func:`torch_twin` only: glassnet does not depend on it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn
from ..inference import InferencePlan
from ..io import to_torch
from ..models.zoo import cnn1d, lenet5, resnet20, vgg_small
from ..models.zoo import mlp as zoo_mlp
from ..optim import SGD
from ..optional import TORCH_INSTALL, require

LR, MOMENTUM = 0.01, 0.9


def mlp(input_shape, num_classes, hidden=(512, 512), seed=0):
    """784-512-512-10: Flatten-Linear-ReLU-Linear-ReLU-Linear on flat (N, 784) inputs (the zoo's ``mlp``)."""
    return zoo_mlp(int(np.prod(input_shape)), hidden, num_classes, init="he", rng=np.random.default_rng(seed),
                   output_init="default")


def cifar_net(input_shape, num_classes, seed=0):
    """[conv3x3(32)-BN-ReLU] x2 - maxpool - [conv3x3(64)-BN-ReLU] x2 - maxpool - GAP - linear.

    The zoo's ``vgg_small`` without dropout (convolutions without bias, as usual before BN).
    """
    return vgg_small(input_shape, num_classes, channels=(32, 64), convs_per_block=2, dropout=0.0, seed=seed)


def cnn1d_net(input_shape, num_classes, seed=0):
    """The zoo's ``cnn1d`` at 32/64/128 channels with kernels of 7: [conv1d-BN-ReLU-maxpool] x3, GAP, linear."""
    return cnn1d(input_shape, num_classes, channels=(32, 64, 128), kernel_size=7, seed=seed)


def lenet(input_shape, num_classes, seed=0):
    """The zoo's LeNet-5 (conv5x5(6) pad 2 - pool - conv5x5(16) - pool - 120 - 84 - 10) on 1x28x28."""
    return lenet5(input_shape, num_classes, seed=seed)


@dataclass(frozen=True)
class Workload:
    name: str
    model: str          # a key of BUILDERS: "lenet", "cifar", "mlp", "resnet20" or "cnn1d"
    input_shape: tuple  # without the batch axis
    batch: int
    train: bool
    description: str
    calls: int = 1      # forward passes per timed step (batch-1 latency: one pass is too short to time alone)

    def build(self, seed=0):
        """The glassnet model (float32, training mode unless this is an inference workload)."""
        model = BUILDERS[self.model](self.input_shape, 10, seed=seed)
        return model.train(self.train)

    def batch_data(self, batch=None, seed=0):
        """A float32 batch of standard-normal inputs and integer labels in [0, 10)."""
        rng = np.random.default_rng(seed)
        n = batch or self.batch
        x = rng.standard_normal((n, *self.input_shape), dtype=np.float32)
        return x, rng.integers(0, 10, size=n)


BUILDERS = {"lenet": lenet, "cifar": cifar_net, "mlp": mlp, "resnet20": resnet20, "cnn1d": cnn1d_net}

WORKLOADS = {
    w.name: w
    for w in (
        Workload("lenet-train-64", "lenet", (1, 28, 28), 64, True, "LeNet-5 training step, 1x28x28, batch 64"),
        Workload("lenet-train-256", "lenet", (1, 28, 28), 256, True, "LeNet-5 training step, 1x28x28, batch 256"),
        Workload("lenet-infer-256", "lenet", (1, 28, 28), 256, False, "LeNet-5 inference, 1x28x28, batch 256"),
        Workload("cifar-train-128", "cifar", (3, 32, 32), 128, True,
                 "CIFAR net (conv-BN-ReLU x2 at 32 ch, pool, x2 at 64 ch, pool, GAP, FC) training step, batch 128"),
        Workload("cifar-infer-128", "cifar", (3, 32, 32), 128, False, "CIFAR net inference, 3x32x32, batch 128"),
        Workload("mlp-train-256", "mlp", (784,), 256, True, "MLP 784-512-512-10 training step, batch 256"),
        Workload("resnet20-train-128", "resnet20", (3, 32, 32), 128, True,
                 "ResNet-20 (He et al. 2016, 0.27 M parameters) training step, 3x32x32, batch 128"),
        Workload("cnn1d-train-128", "cnn1d", (3, 1024), 128, True,
                 "1-D CNN ([conv1d(k=7)-BN-ReLU-pool] at 32/64/128 ch, GAP, FC) training step, 3x1024 signals, batch 128"),
        Workload("lenet-infer-1", "lenet", (1, 28, 28), 1, False, "LeNet-5 inference latency, batch 1", calls=50),
        Workload("cifar-infer-1", "cifar", (3, 32, 32), 1, False, "CIFAR net inference latency, batch 1", calls=10),
    )
}
SCALING_BATCHES = (32, 64, 128, 256, 512)


# ------------------------------------------------------------------------------------------ steps
def glassnet_step(model, workload, x, y):
    """A zero-argument function running one step of ``workload`` on glassnet ``model``."""
    if not workload.train:  # the deployment path: BN folded, layers fused, no caches (glassnet.inference)
        plan = InferencePlan(model.eval())

        def infer():
            for _ in range(workload.calls):
                out = plan(x)
            return out

        return infer
    model.train()
    opt = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        scores = model(x)
        loss, dscores = loss_fn(scores, y)
        model.backward(dscores, need_input_grad=False)  # like PyTorch: the input needs no gradient
        opt.step()
        return loss

    return step


def torch_step(torch, layers, workload, x, y):
    """The same step in PyTorch on the twin ``layers`` (a list of torch modules)."""
    model = torch.nn.Sequential(*layers)
    tx, ty = torch.from_numpy(x), torch.from_numpy(np.asarray(y, dtype=np.int64))
    if not workload.train:
        model.eval()

        def infer():
            with torch.inference_mode():
                for _ in range(workload.calls):
                    out = model(tx)
            return out

        return infer
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(tx), ty)
        loss.backward()
        opt.step()
        return loss

    return step


# ------------------------------------------------------------------------------------------ twin
def import_torch():
    """Import PyTorch or explain how to get it (it is an optional dependency of glassnet)."""
    return require("torch", "glassnet bench (it compares against PyTorch)", TORCH_INSTALL)


def torch_twin(model):
    """One torch module per glassnet layer of ``model`` (a flat Sequential), with copied weights:
    the layers of :func:`glassnet.io.to_torch` (the one glassnet -> PyTorch layer mapping)."""
    return list(to_torch(model))


# ------------------------------------------------------------------------------------------ FLOPs
def layer_flops(model, input_shape):
    """Multiply-adds x 2 of every convolution and Linear layer for ONE sample: [(layer name, kind, flops)].

    conv (1-D or 2-D, any groups): 2 * C_in/groups * (kernel taps) * C_out * (output positions), i.e.
    2 * weight.size * positions; linear: 2 * in * out. Element-wise layers, pooling and residual sums
    are free. The shapes come from one zero sample run through the model (eval mode, no caches).
    """
    rows = []

    def walk(module, x, name):
        if isinstance(module, nn.Sequential):
            for child_name, child in module.named_children():
                x = walk(child, x, f"{name}.{child_name}" if name else child_name)
            return x
        if isinstance(module, nn.Residual):
            y = walk(module.body, x, f"{name}.body")
            return y + (x if module.shortcut is None else walk(module.shortcut, x, f"{name}.shortcut"))
        out = module.forward(x)
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            rows.append((name, type(module).__name__, 2 * module.weight.size * int(np.prod(out.shape[2:]))))
        elif isinstance(module, nn.Linear):
            rows.append((name, "Linear", 2 * module.weight.size))
        return out

    dtype = next((p.dtype for p in model.parameters()), np.float32)
    was_training = model.training
    with model.no_grad():
        walk(model.eval(), np.zeros((1, *input_shape), dtype=dtype), "")
    model.train(was_training)
    return rows


def step_flops(workload, model):
    """FLOPs of one step of ``workload``: forward (inference), or forward + weight gradients + input
    gradients of every weighted layer but the first (whose input needs no gradient) for training."""
    rows = layer_flops(model, workload.input_shape)
    forward = sum(f for _, _, f in rows)
    if not workload.train:
        return forward * workload.batch
    first = rows[0][2] if rows else 0
    return (3 * forward - first) * workload.batch
