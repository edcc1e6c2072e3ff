"""The Solver: trains a model with minibatches, keeps history, checkpoints and resumes exactly.

One epoch = one pass of the DataLoader (a shuffled permutation per epoch, or sampling with
replacement), each step ``zero_grad -> forward -> loss (+ regularizer) -> backward -> guard -> step``.
Every source of randomness of an epoch - the batch order, the augmentation and the dropout masks -
is a pure function of ``(seed, epoch)``, so a run resumed from the checkpoint written after epoch
``e`` replays epochs ``e+1, ...`` exactly as the uninterrupted run would have.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import backend
from ..nn import CrossEntropyLoss, Dropout
from .checkpoint import save_checkpoint
from .evaluate import evaluate
from .guard import TrainingDiverged, all_finite, locate_divergence
from .metrics import COLUMNS, write_csv
from .plots import plot_history
from .strategy import SingleProcess

CHECKPOINT = "checkpoint.safetensors"
PLOT_EVERY_S = 30.0  # history.png is redrawn at most this often while training (and always at the end)


class Solver:
    """Train ``model`` on ``train_loader`` with ``optimizer``.

    model: a glassnet Module; train_loader: a glassnet DataLoader; optimizer: a glassnet optimizer.
    loss_fn: a loss module (default CrossEntropyLoss). val_set: ArrayDataset scored after each epoch
    (best-model tracking and early stopping use its accuracy). scheduler: stepped once per epoch.
    regularizer: an L1/L2 regularizer (``apply(model)`` adds its gradient and returns its penalty).
    epochs: how many epochs in total. seed: seeds the dropout masks (the loader has its own seed).
    out_dir: where ``checkpoint.safetensors``, ``metrics.csv`` and ``history.png`` go (None: nowhere).
    patience: stop after this many epochs without a better validation accuracy (None: never).
    restore_best: at the end, load the weights of the best validation epoch (classic cs231n solver).
    train_eval_samples: how many training samples are re-scored in eval mode for the train accuracy.
    progress: show a tqdm bar per epoch. callbacks: functions ``f(solver, epoch_record)`` after each epoch.
    parallel: how the run is spread over processes (:class:`glassnet.train.strategy.SingleProcess`,
    the default; a :class:`glassnet.distributed.DataParallel` for data-parallel training over MPI, the
    loader then yielding this rank's shard of each global batch); only the main process prints and
    writes files.
    """

    def __init__(self, model, train_loader, optimizer, loss_fn=None, val_set=None, scheduler=None,
                 regularizer=None, epochs=10, seed=0, out_dir=None, patience=None, restore_best=True,
                 train_eval_samples=1000, progress=True, callbacks=(), checkpoint_every=1, parallel=None):
        if patience is not None and val_set is None:
            raise ValueError("Solver: early stopping (patience) needs a validation set to watch (val_set)")
        self.model, self.loader, self.optimizer = model, train_loader, optimizer
        self._backward_kwargs = {"need_input_grad": False} if model.can_skip_input_grad else {}
        self.loss_fn = loss_fn or CrossEntropyLoss()
        self.val_set, self.scheduler, self.regularizer = val_set, scheduler, regularizer
        self.epochs, self.seed, self.patience, self.restore_best = int(epochs), int(seed), patience, restore_best
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress, self.callbacks, self.checkpoint_every = progress, list(callbacks), checkpoint_every
        self.parallel = parallel if parallel is not None else SingleProcess()
        self.is_main = self.parallel.is_main
        self.progress = self.progress and self.is_main
        ds = train_loader.dataset
        self._train_eval = type(ds)(*ds[np.arange(min(train_eval_samples, len(ds)))]) if train_eval_samples else None
        self.history = {c: [] for c in COLUMNS}
        self.epoch = 0
        self.best_val_acc, self.best_epoch, self.best_state = -1.0, 0, None
        self.stale = 0  # epochs since the last better validation accuracy (early stopping)
        self.step_losses = []
        self._last_plot = time.perf_counter()

    # ---------------------------------------------------------------- cs231n's names for the history
    @property
    def loss_history(self) -> tuple:
        """The training loss of every step so far, in order (cs231n's ``solver.loss_history``)."""
        return tuple(self.step_losses)

    @property
    def train_acc_history(self) -> tuple:
        """The training accuracy after each epoch (``history["train_acc"]``)."""
        return tuple(self.history["train_acc"])

    @property
    def val_acc_history(self) -> tuple:
        """The validation accuracy after each epoch (``history["val_acc"]``; None where there is no val_set)."""
        return tuple(self.history["val_acc"])

    # ---------------------------------------------------------------- one step
    def _step(self, x, y):
        model = self.model
        model.train()
        self.optimizer.zero_grad()
        scores = model.forward(x)
        loss, dscores = self.loss_fn(scores, y)
        dscores = self.parallel.scale_loss_gradient(dscores, len(y))
        model.backward(dscores, **self._backward_kwargs)  # the input's gradient is not needed here
        loss = self.parallel.allreduce_gradients(loss, scores, y)  # gradient and loss of the whole batch
        if self.regularizer is not None:
            loss = loss + self.regularizer.apply(model)
        if not all_finite(loss, self.optimizer.params):
            where = locate_divergence(model, self.loss_fn, x, y)
            raise TrainingDiverged(
                f"training diverged at epoch {self.epoch + 1}, step {len(self.step_losses) + 1}: "
                f"loss = {float(loss)}; {where}. Try a smaller learning rate."
            )
        self.optimizer.step()
        return loss, scores

    def _seed_dropout(self, epoch):
        for i, m in enumerate(self.model.modules()):
            if isinstance(m, Dropout):
                m.seed([self.seed, epoch, i, *self.parallel.dropout_key()])

    # ---------------------------------------------------------------- epochs
    def train_epoch(self):
        """Run one epoch of minibatch steps; return (mean loss, running train accuracy, seconds, images/s)."""
        epoch = self.epoch
        self.loader.set_epoch(epoch)
        self._seed_dropout(epoch)
        batches = iter(self.loader)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm  # noqa: PLC0415

            bar = tqdm(total=len(self.loader), desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch", leave=False,
                       disable=None)  # None: no bar when the output is not a terminal (logs, CI)
        loss_sum, correct, seen, start = 0.0, 0, 0, time.perf_counter()
        for x, y in batches:
            loss, scores = self._step(x, y)
            loss_value = float(loss)  # one host sync per step, for the history
            self.step_losses.append(loss_value)
            n, hits = self.parallel.batch_counts(scores, y)
            loss_sum += loss_value * n
            correct += hits
            seen += n
            if bar is not None:
                elapsed = time.perf_counter() - start
                bar.set_postfix(loss=f"{loss_value:.4f}", acc=f"{correct / seen:.3f}", img_s=f"{seen / max(elapsed, 1e-9):.0f}")
                bar.update()
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - start
        return loss_sum / max(seen, 1), correct / max(seen, 1), seconds, seen / max(seconds, 1e-9)

    def fit(self, resume=False):
        """Train until ``epochs`` (or early stopping); return the history dict of per-epoch lists."""
        if resume:
            self.load_checkpoint()
        while self.epoch < self.epochs and not self._stopped():
            lr = float(self.optimizer.lr)
            train_loss, running_acc, seconds, ips = self.train_epoch()
            self.parallel.sync_buffers()  # BN running statistics the same in every process
            train_acc = evaluate(self.model, self._train_eval, self.loss_fn)["accuracy"] if self._train_eval else running_acc
            val = evaluate(self.model, self.val_set, self.loss_fn) if self.val_set is not None else None
            self.epoch += 1
            if self.scheduler is not None:
                self.scheduler.step()
            record = {"epoch": self.epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                      "val_loss": val and val["loss"], "val_acc": val and val["accuracy"],
                      "seconds": seconds, "images_per_s": ips}
            for k in COLUMNS:
                self.history[k].append(record[k])
            improved = val is not None and val["accuracy"] > self.best_val_acc
            if improved:  # without a validation set there is no best epoch: the last weights stay
                self.best_val_acc, self.best_epoch = val["accuracy"], self.epoch
                self.best_state = {k: backend.to_numpy(v).copy() for k, v in self.model.state_dict().items()}
            self.stale = 0 if improved else self.stale + 1
            for cb in self.callbacks:
                cb(self, record)
            stop = self._stopped()
            if self.out_dir is not None and self.is_main and (self.epoch % self.checkpoint_every == 0 or stop
                                                              or self.epoch == self.epochs):
                self.save_checkpoint()
            self._report(record)  # after the checkpoint: metrics.csv never logs an epoch the checkpoint lacks
            if stop:
                break
        if self.out_dir is not None and self.is_main and self.history["epoch"]:
            self._plot()
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.history

    def _plot(self):
        plot_history(self.history, self.out_dir / "history.png")
        self._last_plot = time.perf_counter()

    def _stopped(self) -> bool:
        """Early stopping: ``patience`` epochs in a row without a better validation accuracy."""
        return self.patience is not None and self.stale >= self.patience

    def _report(self, r):
        if self.out_dir is not None and self.is_main:
            write_csv(self.out_dir / "metrics.csv", self.history)
            # a plot costs ~0.2 s: redraw it at most every PLOT_EVERY_S during training, and at the end
            if time.perf_counter() - self._last_plot >= PLOT_EVERY_S:
                self._plot()
        if self.progress:
            val = f"  val loss {r['val_loss']:.4f}  val acc {r['val_acc']:.4f}" if r["val_acc"] is not None else ""
            print(f"epoch {r['epoch']:3d}/{self.epochs}  lr {r['lr']:.3g}  loss {r['train_loss']:.4f}  "
                  f"train acc {r['train_acc']:.4f}{val}  {r['images_per_s']:.0f} img/s", flush=True)

    # ---------------------------------------------------------------- checkpoints
    def _state(self):
        return {"epoch": self.epoch, "seed": self.seed, "history": self.history,
                "best_val_acc": self.best_val_acc, "best_epoch": self.best_epoch, "stale": self.stale,
                "step_losses": self.step_losses}

    def save_checkpoint(self, path=None):
        """Write the checkpoint (atomically) to ``path`` or ``out_dir/checkpoint.safetensors``."""
        path = Path(path) if path is not None else self.out_dir / CHECKPOINT
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, self._state(), self.best_state)

    def load_checkpoint(self, path=None):
        """Continue from a checkpoint: restores weights, optimizer, schedule, history and epoch."""
        path = Path(path) if path is not None else self.out_dir / CHECKPOINT
        state, best = self.parallel.load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        self.epoch, self.history = int(state["epoch"]), state["history"]
        self.best_val_acc, self.best_epoch = state["best_val_acc"], state["best_epoch"]
        self.stale = int(state.get("stale", self.epoch - self.best_epoch))
        self.step_losses = state.get("step_losses", [])
        self.best_state = best
