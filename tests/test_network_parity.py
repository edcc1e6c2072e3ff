"""A whole CNN, conv-BN-ReLU-maxpool twice (convs without bias, as usual before BN: a bias there has an
exactly-zero gradient, which only rounding noise could compare), flatten, linear-dropout-linear, equals the same PyTorch
nn.Sequential with copied weights: output, input gradient, every parameter gradient and the BN
running statistics, over several train steps (batch statistics) and in eval mode (running ones)."""
from functools import partial

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_parity import assert_close, assert_module_matches_torch, copy_to_torch, linear_weight_names, seeds

import glassnet.functional as F
from glassnet import nn


def glassnet_cnn(h, w, p, seed):
    rng = np.random.default_rng(seed)
    features = 6 * (h // 2 // 2) * (w // 2 // 2)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(features, 10, rng=rng), nn.Dropout(p, rng=np.random.default_rng(seed + 1)), nn.Linear(10, 5, rng=rng),
    )


class ReplayDropout(torch.nn.Module):
    """PyTorch stand-in for glassnet's Dropout: multiplies by the mask glassnet draws from the same seed."""

    def __init__(self, p, seed):
        super().__init__()
        self.p, self.rng = p, np.random.default_rng(seed)

    def forward(self, x):
        if not self.training:
            return x
        dtype = {torch.float64: np.float64, torch.float32: np.float32}[x.dtype]
        mask = F.dropout_forward(np.ones(tuple(x.shape), dtype=dtype), self.p, True, self.rng)[0]
        return x * torch.tensor(mask)


def torch_cnn(h, w, p, seed, dropout=None):
    features = 6 * (h // 2 // 2) * (w // 2 // 2)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1, bias=False), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(features, 10),
        dropout if dropout is not None else ReplayDropout(p, seed + 1), torch.nn.Linear(10, 5),
    )


def batches(n, h, w, seed, count):
    rng = np.random.default_rng(seed)
    return [rng.normal(rng.normal(), rng.uniform(0.5, 2), (n, 3, h, w)) for _ in range(count)]


network_shapes = dict(n=st.integers(2, 4), h=st.integers(4, 9), w=st.integers(4, 9), seed=seeds)


@settings(max_examples=10, deadline=None)
@given(**network_shapes)
def test_cnn_train_steps_then_eval_match_torch_with_dropout_p0(n, h, w, seed):
    assert_module_matches_torch(partial(glassnet_cnn, h, w, 0.0, seed), torch_cnn(h, w, 0.0, seed, torch.nn.Dropout(0.0)),
                                *batches(n, h, w, seed, 4), train=(True, True, True, False), seed=seed)


@settings(max_examples=10, deadline=None)
@given(**network_shapes)
def test_cnn_with_dropout_half_matches_torch_given_the_same_masks_in_train_and_torch_dropout_in_eval(n, h, w, seed):
    assert_module_matches_torch(partial(glassnet_cnn, h, w, 0.5, seed), partial(torch_cnn, h, w, 0.5, seed),
                                *batches(n, h, w, seed, 3), train=(True, True, False), seed=seed)


def test_cnn_in_eval_mode_matches_torch_eval_with_dropout_p_half():
    assert_module_matches_torch(partial(glassnet_cnn, 8, 10, 0.5, 0), torch_cnn(8, 10, 0.5, 0, torch.nn.Dropout(0.5)),
                                *batches(2, 8, 10, 0, 2), train=False)


def test_cnn_training_with_sgd_steps_tracks_torch(float64):
    """Five SGD steps on cross-entropy, updating both copies: the parameters stay equal to 1e-9."""
    model = glassnet_cnn(8, 8, 0.0, 3)
    reference = torch_cnn(8, 8, 0.0, 3, torch.nn.Dropout(0.0)).double()
    copy_to_torch(model, reference)
    transposed = linear_weight_names(model)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.standard_normal((4, 3, 8, 8)), rng.integers(0, 5, 4)
        model.zero_grad()
        loss, dscores = loss_fn(model(x), y)
        model.backward(dscores)
        reference.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y))
        t_loss.backward()
        assert_close(loss, t_loss, 1e-9, "loss")
        with torch.no_grad():
            for p, tp in zip(model.parameters(), reference.parameters()):
                p.data -= 0.1 * p.grad
                tp -= 0.1 * tp.grad
    for name, p in model.named_parameters():
        expected = dict(reference.named_parameters())[name].detach()
        assert_close(p.data, expected.T if name in transposed else expected, 1e-9, name)
    for name, b in model.named_buffers():
        assert_close(b, dict(reference.named_buffers())[name], 1e-9, name)
