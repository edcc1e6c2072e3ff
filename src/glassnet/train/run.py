"""Run directories: train a zoo model on a data source from a config, and load the result back.

A run directory holds ``config.json`` (every option of the run), ``model.safetensors`` (architecture,
weights and the data's normalisation, loadable without executing code), ``checkpoint.safetensors``,
``metrics.csv``, ``history.png``, ``confusion.png`` and ``summary.json``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .. import backend, io
from ..data import Compose, DataLoader, RandomCrop, RandomHorizontalFlip, dataset_label, load_data
from ..errors import InputError, MissingInputError, option_error
from ..io.atomic import remove_stale_temps, write_text
from ..models import build_model
from ..nn import CrossEntropyLoss
from ..optim import OPTIMIZERS, CosineLR, StepLR, make_optimizer, regularizer_from
from .evaluate import evaluate
from .metrics import confusion_matrix
from .plots import plot_confusion
from .solver import CHECKPOINT, Solver
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
RUN_MARKERS = ("config.json", "model.safetensors", CHECKPOINT)
"""A folder holding any of these is a run (started or finished)."""
RUN_FILES = (*RUN_MARKERS, "metrics.csv", "history.png", "confusion.png", "summary.json")
"""Everything a run directory holds."""


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
    raise InputError(f"unknown schedule {kind!r}: choose one of {', '.join(SCHEDULES)}")


def make_augmentation(cfg, input_shape):
    """Random crop with 1/8-image padding (and horizontal flips for colour images), if enabled;
    none for signals (C, L)."""
    if not cfg["augment"] or len(input_shape) != 3:
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


RANGES = {  # key: (integer only, the test, how the rule reads); None passes where the default is None
    **{key: (True, lambda v: v >= 1, "be >= 1") for key in ("epochs", "batch_size", "step_size", "limit", "patience")},
    **{key: (True, lambda v: v >= 0, "be >= 0") for key in ("seed", "warmup")},
    **{key: (False, lambda v: v > 0, "be > 0") for key in ("lr", "gamma")},
    **{key: (False, lambda v: v >= 0, "be >= 0") for key in ("weight_decay", "l1", "l2")},
    **{key: (False, lambda v: 0 <= v < 1, "lie in [0, 1)") for key in ("momentum", "val_fraction", "dropout")},
}
"""The numeric options' valid ranges, checked by :func:`check_config`."""


def check_config(cfg: dict):
    """Refuse, before any data is read, a configuration that cannot train as asked.

    Each bad value is named by its key (``epochs``; the command line names its option, ``--epochs``).
    """
    for key, (integer, valid, rule) in RANGES.items():
        value = cfg[key]
        if value is None and DEFAULTS[key] is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            raise option_error(key, f"must be {'an integer' if integer else 'a number'}, got {value!r}")
        if not math.isfinite(value):
            raise option_error(key, f"must be a finite number, got {value}")
        if not valid(value):
            raise option_error(key, f"must {rule}, got {value}")
    for key, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("device", ("cpu", "cuda")),
                         ("dtype", ("float32", "float64"))):
        if cfg[key] not in choices:
            raise option_error(key, f"must be one of {', '.join(choices)}, got {cfg[key]!r}")
    if cfg["schedule"] == "cosine" and cfg["warmup"] >= cfg["epochs"]:
        raise option_error("warmup", f"({cfg['warmup']} epochs) must be shorter than the cosine schedule's "
                                     f"{cfg['epochs']} epochs in total")
    if cfg["patience"] is not None and cfg["val_fraction"] == 0:
        raise InputError("patience (early stopping) needs a validation split: val_fraction > 0",
                         cli="--patience (early stopping) needs a validation split: --val-fraction > 0")


def check_splits(splits, cfg: dict):
    """Refuse data that would fail only after training: empty parts, test inputs of another shape."""
    what = f"dataset {cfg['data']!r}" + (f" in {cfg['data_dir']}" if cfg.get("data_dir") else "")
    kind, axes = ("images", "channels, height, width") if len(splits.input_shape) == 3 else ("signals", "channels, length")
    for part in ("train", "test"):
        if len(getattr(splits, part)) == 0:
            raise InputError(f"the {part} part of {what} is empty")
    for part in ("val", "test"):
        data = getattr(splits, part)
        if len(data) and tuple(data.x.shape[1:]) != tuple(splits.input_shape):
            raise InputError(f"the {part} {kind} of {what} have shape {tuple(data.x.shape[1:])} but the training "
                             f"{kind} have shape {tuple(splits.input_shape)} ({axes})")


def check_run_dir(out: Path, resume: bool, overwrite: bool):
    """Refuse to start where files would be lost: a file named like the run directory, or a finished
    or started run (unless ``overwrite``); on resume, a folder that is not a run."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not a run directory")
    if resume:
        if not (out / "config.json").is_file():
            raise MissingInputError(f"{out}: no config.json here - is this a glassnet run directory?")
        return
    if not overwrite and any((out / name).exists() for name in RUN_MARKERS):
        raise InputError(f"{out} already holds a run: pass resume=True to continue it or overwrite=True to "
                         f"replace it", cli=f"{out} already holds a run: continue it with --resume {out}, "
                                           f"replace it with --overwrite, or choose another --out")


def open_run_dir(out: Path, cfg: dict, resume: bool) -> list[Path]:
    """Create the run directory (or clear a replaced run's files), remove temporary files left by
    killed writes and write ``config.json``; return the stale files removed."""
    out.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temps(out)
    if not resume:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    write_text(out / "config.json", json.dumps(cfg, indent=2, sort_keys=True))
    return stale


def default_run_dir(cfg) -> Path:
    return Path("runs") / f"{cfg['model']}-{dataset_label(cfg['data'])}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_run(cfg: dict, out_dir=None, resume=False, progress=True, comm=None, overwrite=False, log=None) -> dict:
    """Train as ``cfg`` says (missing keys take :data:`DEFAULTS`) into ``out_dir``; return the summary.

    The configuration, the run directory and the data's shapes are checked before the first step.
    ``out_dir`` must not hold a run already unless ``overwrite=True`` (its run files are then replaced).
    With ``resume=True`` the run continues from ``out_dir/checkpoint.safetensors`` using the
    configuration saved in ``out_dir/config.json`` (``cfg`` may raise ``epochs`` to train longer); a run
    stopped before its first checkpoint starts again from epoch 1.
    ``comm``: a :mod:`glassnet.distributed` communicator for data-parallel training (``batch_size`` is
    then the global batch, split across the ranks); only its rank 0 prints and writes files.
    ``log``: called with one-line messages (the run directory, before the first epoch; what was resumed).
    """
    launch = SingleProcess() if comm is None else _distributed_run(comm)
    out = Path(launch.from_main(lambda: str(out_dir if out_dir is not None else default_run_dir({**DEFAULTS, **cfg}))))
    if launch.is_main:
        check_run_dir(out, resume, overwrite)
    if resume:
        saved = launch.from_main(lambda: read_config(out))
        cfg = {**saved, **({"epochs": cfg["epochs"]} if cfg.get("epochs") is not None else {})}
    cfg = {**DEFAULTS, **cfg}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        where = f"{out / 'config.json'}: " if resume else ""
        raise InputError(f"{where}unknown configuration keys: {sorted(unknown)}")
    check_config(cfg)
    if cfg["data_dir"] is not None:  # stored absolute: evaluate, features and resume work from anywhere
        cfg["data_dir"] = str(Path(cfg["data_dir"]).expanduser().resolve())
    backend.use(cfg["device"])
    with backend.default_dtype(np.dtype(cfg["dtype"])):
        return _train(cfg, out, resume, progress, launch, log or (lambda message: None))


def _distributed_run(comm):
    from ..distributed.run import DistributedRun  # noqa: PLC0415 - only distributed runs need it

    return DistributedRun(comm)


def read_config(run_dir) -> dict:
    """The ``config.json`` of a run directory, refused with its file name if it is not a JSON object."""
    path = Path(run_dir) / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}) - the run's configuration is damaged") from exc
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: expected a JSON object of options, found a {type(cfg).__name__}")
    return cfg


def _train(cfg, out, resume, progress, launch, log):
    start = time.perf_counter()
    splits = load_splits(cfg)
    check_splits(splits, cfg)
    model = make_model(cfg, splits)
    optimizer = config_optimizer(cfg, model.parameters())
    scheduler = make_schedule(cfg, optimizer)
    loader = DataLoader(splits.train, cfg["batch_size"], seed=cfg["seed"], replacement=cfg["replacement"],
                        transform=make_augmentation(cfg, splits.input_shape))
    loader, parallel = launch.distribute(cfg, model, loader, len(splits.train))
    main = launch.is_main
    progress = progress and main
    val_set = splits.val if len(splits.val) else None  # val_fraction=0: no validation, the last weights stay
    solver = Solver(model, loader, optimizer, CrossEntropyLoss(), val_set, scheduler,
                    regularizer_from(l1=cfg["l1"], l2=cfg["l2"]), epochs=cfg["epochs"], seed=cfg["seed"],
                    out_dir=out, patience=cfg["patience"], restore_best=cfg["restore_best"], progress=progress,
                    parallel=parallel)
    checkpoint_found = resume and launch.from_main(lambda: (out / CHECKPOINT).is_file())
    if checkpoint_found:
        solver.load_checkpoint()
        if solver.epoch > cfg["epochs"]:
            raise option_error("epochs", f"({cfg['epochs']}) must not be below the {solver.epoch} epochs "
                                         f"{out} has trained already")
        if isinstance(scheduler, CosineLR) and scheduler.T_max != cfg["epochs"]:
            scheduler.extend(cfg["epochs"])  # --epochs changed on resume: stretch the cosine
    if main:
        stale = open_run_dir(out, cfg, resume)
        log(f"run directory {out}" + (f" (removed {len(stale)} temporary file(s) of interrupted writes)"
                                      if stale else ""))
        if resume:
            log(f"resuming after epoch {solver.epoch} of {cfg['epochs']}" if checkpoint_found else
                "no checkpoint yet (stopped during the first epoch): starting from epoch 1")
    if progress:
        print(model.summary(splits.input_shape), flush=True)
    solver.fit()
    loss_fn = CrossEntropyLoss()
    test = evaluate(model, splits.test, loss_fn)
    val = evaluate(model, val_set, loss_fn) if val_set is not None else {"accuracy": None}
    if main:
        io.save(model, out / "model.safetensors", metadata=run_metadata(cfg, splits))
        cm = confusion_matrix(splits.test.y, test["predictions"], splits.num_classes)
        plot_confusion(cm, splits.classes, out / "confusion.png", f"{cfg['model']} on {dataset_label(cfg['data'])} (test)")
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


def run_model_path(run_dir) -> Path:
    """The model file of a finished run directory; MissingInputError if it has none."""
    path = Path(run_dir) / "model.safetensors"
    if not path.is_file():
        raise MissingInputError(f"{run_dir}: no model.safetensors here - is this a finished glassnet run directory?")
    return path


def load_run(run_dir):
    """(model, config, metadata) of a finished run directory."""
    path = run_model_path(run_dir)
    cfg = read_config(Path(run_dir))
    model, meta = io.load(path, return_metadata=True)
    return model.eval(), cfg, meta
