"""What every experiment shares: the run context (seed, quick/full), data, model and training
helpers, the verdict rules, and the figure helpers.

Verdicts are never written by hand: an experiment turns its measured numbers into a list of
:class:`Check` (a sentence quoting the number and the threshold, and whether it passed), and
:func:`judge` turns the checks into one of :data:`VERDICTS`.
"""
from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import nn
from ..data import ArrayDataset, DataLoader, load_data
from ..data.splits import stratified_split
from ..optim import make_optimizer
from ..train import Solver, predict_scores
from ..train.plots import pyplot, save_png

VERDICTS = ("holds", "holds partly", "does not hold")


# ---------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Check:
    """One measurable part of a claim: ``text`` quotes the number and the threshold."""

    text: str
    passed: bool


@dataclass(frozen=True)
class Verdict:
    label: str
    checks: tuple

    def to_dict(self) -> dict:
        return {"verdict": self.label, "checks": [{"text": c.text, "passed": c.passed} for c in self.checks]}


def judge(checks) -> Verdict:
    """"holds" if every check passed, "does not hold" if none did, "holds partly" otherwise."""
    checks = tuple(checks)
    if not checks:
        raise ValueError("judge needs at least one check")
    passed = sum(bool(c.passed) for c in checks)
    label = VERDICTS[0] if passed == len(checks) else VERDICTS[2] if passed == 0 else VERDICTS[1]
    return Verdict(label, checks)


def check(passed, text: str) -> Check:
    return Check(text, bool(passed))


# ---------------------------------------------------------------------------- the run context
@dataclass
class Context:
    """Where and how one experiment runs. Every random draw comes from :meth:`rng` or :meth:`seed_for`,
    which depend only on (seed, experiment name, tags): an experiment gives the same numbers whether
    it runs alone or with the others, in any order."""

    name: str
    seed: int = 0
    quick: bool = False
    out_dir: Path = field(default_factory=lambda: Path("."))

    def _sequence(self, tags):
        return np.random.SeedSequence([self.seed, zlib.crc32(self.name.encode()), *[zlib.crc32(str(t).encode()) for t in tags]])

    def rng(self, *tags) -> np.random.Generator:
        return np.random.default_rng(self._sequence(tags))

    def seed_for(self, *tags) -> int:
        """An int seed (for DataLoader and Solver) derived like :meth:`rng`."""
        return int(self._sequence(tags).generate_state(1)[0])

    def pick(self, quick, full):
        """``quick`` in --quick mode, ``full`` otherwise."""
        return quick if self.quick else full

    @property
    def figure_path(self) -> Path:
        return Path(self.out_dir) / f"{self.name}.png"


@dataclass
class Measured:
    """What an experiment's ``run`` returns: a sentence on the setup and the numbers it measured
    (JSON-native: floats, ints, bools, strings, lists and dicts of them)."""

    setup: str
    numbers: dict


# ---------------------------------------------------------------------------- data
@functools.lru_cache(maxsize=4)
def digits(seed: int):
    """The bundled 8x8 digits split with ``seed`` (loaded once per process; treat as read-only)."""
    return load_data("digits", seed=seed)


def subset(dataset, n: int, seed: int) -> ArrayDataset:
    """A stratified random subset of ``n`` examples of ``dataset``."""
    if n >= len(dataset):
        return dataset
    _, idx = stratified_split(dataset.y, n / len(dataset), seed)
    return ArrayDataset(*dataset[np.sort(idx)])


def one_hot(y, num_classes: int) -> np.ndarray:
    return np.eye(num_classes)[np.asarray(y)]


class OneHotTargets:
    """Wrap an element-wise loss (BCELoss, MSELoss) so it takes integer labels like CrossEntropyLoss:
    ``loss(scores, y) = inner(scores, one_hot(y))`` - then Solver and evaluate work unchanged."""

    def __init__(self, inner, num_classes: int):
        self.inner, self.num_classes = inner, int(num_classes)

    def __call__(self, scores, y):
        targets = one_hot(y, self.num_classes).astype(scores.dtype)
        return self.inner(scores, targets)


# ---------------------------------------------------------------------------- models and training
def fit(model, train_set, *, epochs, lr, seed, optimizer="sgd", momentum=0.9, batch_size=64, loss_fn=None,
        val_set=None, regularizer=None, callbacks=()) -> Solver:
    """Train with glassnet's Solver (no files, no progress bar, the final weights kept); return it.

    ``solver.history`` holds the per-epoch table, ``solver.step_losses`` the loss of every step.
    """
    loader = DataLoader(train_set, batch_size, seed=seed)
    solver = Solver(model, loader, make_optimizer(optimizer, model.parameters(), lr, momentum=momentum), loss_fn,
                    val_set=val_set, regularizer=regularizer, epochs=epochs, seed=seed, progress=False,
                    restore_best=False, train_eval_samples=len(train_set), callbacks=callbacks)
    solver.fit()
    return solver


def accuracy(model, dataset) -> float:
    """Share of ``dataset`` that ``model`` (in eval mode) classifies correctly."""
    return float((predict_scores(model, dataset.x).argmax(axis=1) == dataset.y).mean())


def steps_to_reach(curve, target, steps_per_point=1):
    """First step at which ``curve`` (one value per point) reaches ``target``; None if never."""
    hits = np.nonzero(np.asarray(curve, dtype=float) >= target)[0]
    return int((hits[0] + 1) * steps_per_point) if hits.size else None


# ---------------------------------------------------------------------------- figures
def figure(ncols=1, nrows=1, width=5.0, height=3.8, title=None):
    """A matplotlib figure with a grid of axes (always returned as a flat list) and a title."""
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig, list(axes.ravel())


def patch(color, label):
    """A legend entry for a bar colour: ``ax.legend(handles=[patch("tab:red", "FC head"), ...])``."""
    from matplotlib.patches import Patch  # noqa: PLC0415

    return Patch(color=color, label=label)


def save_figure(fig, path):
    """Write ``fig`` as PNG (atomically) and close it."""
    fig.tight_layout()
    save_png(fig, path)
    pyplot().close(fig)


def fmt(x, digits=3) -> str:
    """A number for prose: 3 significant digits, scientific when tiny or huge; "never" for None."""
    if x is None:
        return "never"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def pct(x) -> str:
    return "never" if x is None else f"{100 * float(x):.1f} %"
