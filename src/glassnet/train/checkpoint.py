"""Training checkpoints: model, optimizer, schedule and solver state in one atomically written file.

The file is a checksummed safetensors container (see :mod:`glassnet.io.tensors`): arrays under
``model/``, ``best/`` and ``optim/`` prefixes, everything else (epoch, history, hyper-parameters,
schedule, seeds) as JSON. Nothing is pickled; a failed write leaves the previous checkpoint intact.
"""
from __future__ import annotations

from ..io.model_file import architecture
from ..io.tensors import ModelFileError, read, write

FORMAT = "glassnet-checkpoint"


def save_checkpoint(path, model, optimizer, scheduler, solver_state: dict, best_state=None):
    """Write everything needed to continue training exactly where it stopped."""
    optim = optimizer.state_dict()
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"optim/{k}": v for k, v in optim["arrays"].items()})
    if best_state is not None:
        arrays.update({f"best/{k}": v for k, v in best_state.items()})
    document = {
        "format": FORMAT,
        "architecture": architecture(model),
        "optimizer": optim["scalars"],
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "solver": solver_state,
    }
    write(path, arrays, document)


def load_checkpoint(path, model, optimizer, scheduler):
    """Restore model, optimizer and schedule from ``path`` in place; return (solver_state, best_state)."""
    arrays, document = read(path)
    if document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a glassnet checkpoint (format {document.get('format')!r})")
    if document["architecture"] != architecture(model):
        raise ModelFileError(f"{path}: the checkpoint was written for another architecture than this model's")

    def part(prefix):
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    model.load_state_dict(part("model/"))
    optimizer.load_state_dict({"arrays": part("optim/"), "scalars": document["optimizer"]})
    if scheduler is not None and document.get("scheduler") is not None:
        scheduler.load_state_dict(document["scheduler"])
    best = part("best/") or None
    return document["solver"], best
