"""Whole training runs against PyTorch: a small CNN (conv, batch norm, pooling; dropout off), and a
small residual network (identity and projection shortcuts, depthwise dilated and grouped convolutions),
trained 100 steps by glassnet's Solver and by a hand-written PyTorch loop, from the same initial weights
on the same minibatches, end with the same parameters and BN running statistics (float64)."""
import numpy as np
import pytest
import torch

from glassnet import backend, nn, optim
from glassnet.data import ArrayDataset, DataLoader, digits
from glassnet.train import Solver

STEPS, BATCH, EPOCHS = 100, 20, 10
N = STEPS // EPOCHS * BATCH  # 200 examples, 10 batches per epoch, 10 epochs = 100 steps


def _glassnet_cnn():
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, rng=rng), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 10, rng=rng),
    )


def _torch_copy(model):
    """The same network in PyTorch, with glassnet's initial weights (Linear weights transposed)."""
    t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(6 * 4 * 4, 10),
    ).double()
    state = {k: torch.from_numpy(np.array(v.T if k == "7.weight" else v)) for k, v in model.state_dict().items()}
    t.load_state_dict(state)  # strict: every glassnet name is PyTorch's (num_batches_tracked defaults)
    return t


def torch_training_losses(torch_model, torch_opt, dataset, seed):
    """The per-step losses of EPOCHS epochs of plain PyTorch training on the minibatches glassnet's
    DataLoader(dataset, BATCH, seed) gives (the batches are a pure function of (seed, epoch))."""
    losses = []
    replay = DataLoader(dataset, BATCH, seed=seed)
    for _ in range(EPOCHS):
        for x, y in replay:
            torch_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)), torch.from_numpy(y))
            loss.backward()
            torch_opt.step()
            losses.append(loss.item())
    return losses


OPTIMIZERS = {
    "sgd_momentum_weight_decay": (lambda p: optim.SGD(p, 0.05, momentum=0.9, weight_decay=5e-3),
                                  lambda p: torch.optim.SGD(p, 0.05, momentum=0.9, weight_decay=5e-3)),
    "adam": (lambda p: optim.Adam(p, 3e-3), lambda p: torch.optim.Adam(p, 3e-3)),
    "adam_weight_decay": (lambda p: optim.Adam(p, 3e-3, weight_decay=1e-2),
                          lambda p: torch.optim.Adam(p, 3e-3, weight_decay=1e-2)),
    "nesterov": (lambda p: optim.SGD(p, 0.05, momentum=0.9, nesterov=True),
                 lambda p: torch.optim.SGD(p, 0.05, momentum=0.9, nesterov=True)),
    "rmsprop": (lambda p: optim.RMSprop(p, 1e-3, momentum=0.5, weight_decay=1e-3),
                lambda p: torch.optim.RMSprop(p, 1e-3, momentum=0.5, weight_decay=1e-3)),
    "adamw": (lambda p: optim.AdamW(p, 3e-3, weight_decay=0.05),
              lambda p: torch.optim.AdamW(p, 3e-3, weight_decay=0.05)),
}


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread():
    """Tiny tensors: PyTorch's thread pool only spins against the other processes on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits64():
    with backend.default_dtype(np.float64):
        train = digits(seed=0).train
    return ArrayDataset(train.x[:N], train.y[:N])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_cnn_trained_100_steps_ends_with_pytorchs_parameters_and_bn_running_stats(name, digits64):
    make_ours, make_theirs = OPTIMIZERS[name]
    with backend.default_dtype(np.float64):
        model = _glassnet_cnn()
        torch_model = _torch_copy(model)
        loader = DataLoader(digits64, BATCH, seed=3)
        solver = Solver(model, loader, make_ours(model.parameters()), epochs=EPOCHS, progress=False,
                        train_eval_samples=0)
        solver.fit()
        assert len(solver.step_losses) == STEPS

        torch_losses = torch_training_losses(torch_model, make_theirs(torch_model.parameters()), digits64, seed=3)

    np.testing.assert_allclose(solver.step_losses, torch_losses, rtol=1e-6)
    theirs = torch_model.state_dict()
    ours = model.state_dict()
    assert set(ours) == set(theirs) - {"1.num_batches_tracked"}
    for k, v in ours.items():
        expected = theirs[k].detach().numpy()
        actual = np.asarray(v).T if k == "7.weight" else np.asarray(v)
        assert actual.dtype == np.float64, k
        scale = np.max(np.abs(expected))
        rel = np.max(np.abs(actual - expected)) / scale
        assert rel < 1e-6, f"{k}: relative difference {rel:.3g} from PyTorch after {STEPS} steps of {name}"
    # the run did move the weights (the comparison is not of two untouched initialisations)
    assert not np.allclose(ours["0.weight"], _glassnet_cnn().state_dict()["0.weight"])


def _glassnet_resnet():
    """A small residual network with every new piece: identity and projection shortcuts, a depthwise
    dilated convolution and a grouped one, batch norm in the bodies, global average pooling."""
    rng = np.random.default_rng(1)
    identity_body = nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, groups=2, rng=rng))
    projection_body = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False, rng=rng), nn.BatchNorm2d(6), nn.ReLU(),
                                    nn.Conv2d(6, 6, 3, padding=1, rng=rng))
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.ReLU(),
        nn.Residual(identity_body), nn.ReLU(),
        nn.Residual(projection_body, nn.Conv2d(4, 6, 1, stride=2, rng=rng)), nn.ReLU(),
        nn.GlobalAvgPool2d(), nn.Linear(6, 10, rng=rng),
    )


def test_residual_network_trained_100_steps_ends_with_pytorchs_parameters_and_bn_running_stats(digits64):
    from glassnet import io

    with backend.default_dtype(np.float64):
        model = _glassnet_resnet()
        torch_model = io.to_torch(model)  # the same layers in torch.nn, the residual block as a small torch module
        loader = DataLoader(digits64, BATCH, seed=5)
        solver = Solver(model, loader, optim.SGD(model.parameters(), 0.05, momentum=0.9, weight_decay=5e-3),
                        epochs=EPOCHS, progress=False, train_eval_samples=0)
        solver.fit()
        torch_opt = torch.optim.SGD(torch_model.parameters(), 0.05, momentum=0.9, weight_decay=5e-3)
        torch_losses = torch_training_losses(torch_model, torch_opt, digits64, seed=5)
    assert len(solver.step_losses) == STEPS
    np.testing.assert_allclose(solver.step_losses, torch_losses, rtol=1e-6)
    theirs = torch_model.state_dict()
    for k, v in model.state_dict().items():
        expected = theirs[k].detach().numpy()
        actual = np.asarray(v).T if k == "7.weight" else np.asarray(v)
        rel = np.max(np.abs(actual - expected)) / np.max(np.abs(expected))
        assert rel < 1e-6, f"{k}: relative difference {rel:.3g} from PyTorch after {STEPS} steps"
    assert not np.allclose(model.state_dict()["4.shortcut.weight"], _glassnet_resnet().state_dict()["4.shortcut.weight"])
