"""Learning-rate schedules: set ``optimizer.lr`` from the epoch number, once per epoch.

Each schedule is a closed-form function ``lr_at(epoch)`` of the epoch count and the base rate
(the optimizer's ``lr`` when the schedule is created). Construction sets ``optimizer.lr`` to
``lr_at(0)``; each :meth:`LRScheduler.step` advances the epoch by one and sets
``optimizer.lr = lr_at(epoch)``. Call ``step()`` after each epoch's optimizer steps, as in PyTorch.
"""
from __future__ import annotations

import math
import numbers

from .optimizer import check_real


class LRScheduler:
    """Base class: subclasses list their arguments in ``config_names`` and define ``lr_at(epoch)``."""

    config_names: tuple = ()

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"{type(self).__name__}: expected an optimizer with an 'lr' attribute, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define lr_at")

    def step(self):
        """Advance one epoch and set the optimizer's learning rate for it."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        """The learning rate this schedule set last (a float: glassnet optimizers have one ``lr``)."""
        return self.lr_at(self.last_epoch)

    def state_dict(self) -> dict:
        """JSON-serialisable state: the class name, its arguments, ``base_lr`` and ``last_epoch``."""
        state = {"scheduler": type(self).__name__, "base_lr": self.base_lr, "last_epoch": self.last_epoch}
        state.update({k: getattr(self, k) for k in self.config_names})
        return state

    def load_state_dict(self, state: dict):
        """Restore a :meth:`state_dict` and set the optimizer's ``lr`` to the restored epoch's value."""
        name = type(self).__name__
        if state.get("scheduler") != name:
            raise ValueError(f"{name}.load_state_dict: the state was saved by {state.get('scheduler')!r}, not {name!r}")
        missing = [k for k in ("base_lr", "last_epoch", *self.config_names) if k not in state]
        if missing:
            raise ValueError(f"{name}.load_state_dict: missing keys {missing}")
        epoch = state["last_epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"{name}.load_state_dict: last_epoch must be a non-negative integer, got {epoch!r}")
        config = self._check_config(**{k: state[k] for k in self.config_names})
        self.base_lr = check_real(name, "base_lr", state["base_lr"], low=0.0)
        for k, v in config.items():
            setattr(self, k, v)
        self.last_epoch = int(epoch)
        self.optimizer.lr = self.lr_at(self.last_epoch)
        return self

    @classmethod
    def _check_config(cls, **config) -> dict:
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.config_names)
        return f"{type(self).__name__}({args}, base_lr={self.base_lr!r}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    r"""Decay by ``gamma`` every ``step_size`` epochs: :math:`\eta_e = \eta_0\, \gamma^{\lfloor e / \text{step\_size} \rfloor}`.

    Same learning rates as ``torch.optim.lr_scheduler.StepLR``.
    """

    config_names = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        for k, v in self._check_config(step_size=step_size, gamma=gamma).items():
            setattr(self, k, v)
        super().__init__(optimizer)

    @classmethod
    def _check_config(cls, step_size, gamma) -> dict:
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        return {"step_size": int(step_size), "gamma": check_real("StepLR", "gamma", gamma, low=0.0)}

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRScheduler):
    r"""Optional linear warm-up, then cosine annealing from the base rate to ``eta_min``.

    With ``W = warmup_epochs``, ``f = warmup_start_factor`` and base rate :math:`\eta_0`:

    .. math::

        \eta_e = \begin{cases}
          \eta_0 \left(f + (1 - f)\, e / W\right) & e < W \\
          \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
             \left(1 + \cos\left(\pi\, \frac{e - W}{T_{\max} - W}\right)\right) & e \ge W
        \end{cases}

    so the warm-up rises linearly from ``f * base_lr`` to ``base_lr`` at epoch ``W``, and the
    learning rate reaches ``eta_min`` at epoch ``T_max``. Without warm-up this is the closed form
    of ``torch.optim.lr_scheduler.CosineAnnealingLR``; like it, past ``T_max`` the cosine goes on
    (the rate climbs back towards ``base_lr`` over the next ``T_max - W`` epochs), so choose
    ``T_max`` = the number of epochs you train.
    """

    config_names = ("T_max", "eta_min", "warmup_epochs", "warmup_start_factor")

    def __init__(self, optimizer, T_max, eta_min=0.0, warmup_epochs=0, warmup_start_factor=0.1):
        config = self._check_config(T_max=T_max, eta_min=eta_min, warmup_epochs=warmup_epochs,
                                    warmup_start_factor=warmup_start_factor)
        for k, v in config.items():
            setattr(self, k, v)
        super().__init__(optimizer)

    @classmethod
    def _check_config(cls, T_max, eta_min, warmup_epochs, warmup_start_factor) -> dict:
        for name, v in (("T_max", T_max), ("warmup_epochs", warmup_epochs)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"CosineLR: {name} must be a non-negative integer, got {v!r}")
        if T_max - warmup_epochs < 1:
            raise ValueError(f"CosineLR: T_max ({T_max}) must exceed warmup_epochs ({warmup_epochs}) "
                             "so that there is at least one epoch of annealing")
        return {
            "T_max": int(T_max),
            "eta_min": check_real("CosineLR", "eta_min", eta_min, low=0.0),
            "warmup_epochs": int(warmup_epochs),
            "warmup_start_factor": check_real("CosineLR", "warmup_start_factor", warmup_start_factor,
                                              low=0.0, high=1.0, low_open=True),
        }

    def extend(self, total: int):
        """Anneal over ``total`` epochs instead of ``T_max`` (training was lengthened, e.g. on resume):
        the cosine is stretched from the current epoch on instead of climbing back up after the old
        ``T_max``, and the optimizer's rate is set for the current epoch."""
        config = self._check_config(T_max=total, eta_min=self.eta_min, warmup_epochs=self.warmup_epochs,
                                    warmup_start_factor=self.warmup_start_factor)
        self.T_max = config["T_max"]
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def lr_at(self, epoch: int) -> float:
        W, f = self.warmup_epochs, self.warmup_start_factor
        if epoch < W:
            return self.base_lr * (f + (1 - f) * epoch / W)
        t, T = epoch - W, self.T_max - W
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / T)) / 2
