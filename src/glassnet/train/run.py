"""Run directories: train a zoo model on a data source from a config, and load the result back.

A run directory holds ``config.json`` (every option of the run), ``model.safetensors`` (architecture,
weights and the data's normalisation, loadable without executing code), ``checkpoint.safetensors``,
``metrics.csv``, ``history.png``, ``confusion.png`` and ``summary.json``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import backend, io
from ..data import Compose, DataLoader, RandomCrop, RandomHorizontalFlip, load_data
from ..io.atomic import write_text
from ..models import build_model
from ..nn import CrossEntropyLoss
from ..optim import CosineLR, StepLR, make_optimizer, regularizer_from
from .evaluate import evaluate
from .metrics import confusion_matrix
from .plots import plot_confusion
from .solver import Solver
from .strategy import SingleProcess

DEFAULTS = {
    "model": "classic_cnn", "data": "digits", "data_dir": None, "download": False, "limit": None,
    "epochs": 40, "batch_size": 64, "optimizer": "adamw", "lr": 3e-3, "momentum": 0.9,
    "schedule": "cosine", "warmup": 0, "step_size": 10, "gamma": 0.1, "weight_decay": 0.01,
    "l1": 0.0, "l2": 0.0, "dropout": None, "augment": True, "seed": 0, "val_fraction": 0.1,
    "patience": None, "restore_best": False, "replacement": False, "device": "cpu", "dtype": "float32",
    "sync_bn": False,  # distributed runs: batch norm over the global batch (see glassnet.distributed)
}
SCHEDULES = ("none", "step", "cosine")


def config_optimizer(cfg, params):
    """The optimizer named by ``cfg['optimizer']`` with the config's lr, momentum and weight decay."""
    return make_optimizer(cfg["optimizer"], params, cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])


def make_schedule(cfg, optimizer):
    """StepLR, CosineLR (with optional warm-up) or None, as the config says."""
    kind = cfg["schedule"]
    if kind == "none":
        return None
    if kind == "step":
        return StepLR(optimizer, cfg["step_size"], cfg["gamma"])
    if kind == "cosine":
        return CosineLR(optimizer, cfg["epochs"], warmup_epochs=cfg["warmup"])
    raise ValueError(f"unknown schedule {kind!r}: choose one of {', '.join(SCHEDULES)}")


def make_augmentation(cfg, input_shape):
    """Random crop with 1/8-image padding (and horizontal flips for colour images), if enabled."""
    if not cfg["augment"]:
        return None
    _, h, w = input_shape
    steps = [RandomCrop((h, w), padding=max(1, h // 8))]
    if input_shape[0] == 3:
        steps.append(RandomHorizontalFlip())
    return Compose(steps)


def load_splits(cfg):
    """The DataSplits the config names (same seed, hence the same split, every time)."""
    kw = {"limit": cfg["limit"]} if cfg.get("limit") else {}
    return load_data(cfg["data"], root=cfg.get("data_dir"), seed=cfg["seed"], val_fraction=cfg["val_fraction"],
                     download=cfg.get("download", False), **kw)


def make_model(cfg, splits):
    """The zoo model of the config, shaped for the data (with the config's dropout, if set)."""
    return build_model(cfg["model"], splits.input_shape, splits.num_classes, dropout=cfg.get("dropout"),
                       seed=cfg["seed"])


def default_run_dir(cfg) -> Path:
    return Path("runs") / f"{cfg['model']}-{cfg['data']}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_run(cfg: dict, out_dir=None, resume=False, progress=True, comm=None) -> dict:
    """Train as ``cfg`` says (missing keys take :data:`DEFAULTS`) into ``out_dir``; return the summary.

    With ``resume=True`` the run continues from ``out_dir/checkpoint.safetensors`` using the
    configuration saved in ``out_dir/config.json`` (``cfg`` may raise ``epochs`` to train longer).
    ``comm``: a :mod:`glassnet.distributed` communicator for data-parallel training (``batch_size`` is
    then the global batch, split across the ranks); only its rank 0 prints and writes files.
    """
    launch = SingleProcess() if comm is None else _distributed_run(comm)
    out = Path(launch.from_main(lambda: str(out_dir if out_dir is not None else default_run_dir({**DEFAULTS, **cfg}))))
    if resume:
        saved = launch.from_main(lambda: json.loads((out / "config.json").read_text()))
        cfg = {**saved, **({"epochs": cfg["epochs"]} if cfg.get("epochs") else {})}
    cfg = {**DEFAULTS, **cfg}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
    backend.use(cfg["device"])
    with backend.default_dtype(np.dtype(cfg["dtype"])):
        return _train(cfg, out, resume, progress, launch)


def _distributed_run(comm):
    from ..distributed.run import DistributedRun  # noqa: PLC0415 - only distributed runs need it

    return DistributedRun(comm)


def _train(cfg, out, resume, progress, launch):
    start = time.perf_counter()
    splits = load_splits(cfg)
    model = make_model(cfg, splits)
    optimizer = config_optimizer(cfg, model.parameters())
    scheduler = make_schedule(cfg, optimizer)
    loader = DataLoader(splits.train, cfg["batch_size"], seed=cfg["seed"], replacement=cfg["replacement"],
                        transform=make_augmentation(cfg, splits.input_shape))
    loader, parallel = launch.distribute(cfg, model, loader, len(splits.train))
    main = launch.is_main
    progress = progress and main
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "config.json", json.dumps(cfg, indent=2, sort_keys=True))
    val_set = splits.val if len(splits.val) else None  # val_fraction=0: no validation, the last weights stay
    solver = Solver(model, loader, optimizer, CrossEntropyLoss(), val_set, scheduler,
                    regularizer_from(l1=cfg["l1"], l2=cfg["l2"]), epochs=cfg["epochs"], seed=cfg["seed"],
                    out_dir=out, patience=cfg["patience"], restore_best=cfg["restore_best"], progress=progress,
                    parallel=parallel)
    if progress:
        print(model.summary(splits.input_shape), flush=True)
    if resume:
        solver.load_checkpoint()
        if isinstance(scheduler, CosineLR) and scheduler.T_max != cfg["epochs"]:
            scheduler.extend(cfg["epochs"])  # --epochs changed on resume: stretch the cosine
    solver.fit()
    loss_fn = CrossEntropyLoss()
    test = evaluate(model, splits.test, loss_fn)
    val = evaluate(model, val_set, loss_fn) if val_set is not None else {"accuracy": None}
    if main:
        io.save(model, out / "model.safetensors", metadata=run_metadata(cfg, splits))
        cm = confusion_matrix(splits.test.y, test["predictions"], splits.num_classes)
        plot_confusion(cm, splits.classes, out / "confusion.png", f"{cfg['model']} on {cfg['data']} (test)")
    summary = {
        "test_accuracy": test["accuracy"], "test_loss": test["loss"], "val_accuracy": val["accuracy"],
        "epochs": solver.epoch, "best_epoch": solver.best_epoch, "params": model.num_parameters(),
        "seconds": time.perf_counter() - start, "model": cfg["model"], "data": cfg["data"],
        "run_dir": str(out),
    }
    if main:
        write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def run_metadata(cfg, splits) -> dict:
    """What predict needs besides the weights: classes, input shape and the normalisation."""
    return {"classes": [str(c) for c in splits.classes], "input_shape": list(splits.input_shape),
            "mean": np.asarray(splits.mean).tolist(), "std": np.asarray(splits.std).tolist(),
            "pixel_scale": float(splits.pixel_scale), "data": cfg["data"], "model": cfg["model"]}


def load_run(run_dir):
    """(model, config, metadata) of a finished run directory."""
    run_dir = Path(run_dir)
    if not (run_dir / "model.safetensors").is_file():
        raise FileNotFoundError(f"{run_dir}: no model.safetensors here - is this a finished glassnet run directory?")
    cfg = json.loads((run_dir / "config.json").read_text())
    model, meta = io.load(run_dir / "model.safetensors", return_metadata=True)
    return model.eval(), cfg, meta
