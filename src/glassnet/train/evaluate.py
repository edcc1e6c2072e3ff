"""Evaluation helpers: scores, predictions, loss and accuracy of a model on a dataset, in batches."""
from __future__ import annotations

import numpy as np

from .. import backend


def predict_scores(model, x, batch_size=512, use_plan=False):
    """Model outputs for inputs ``x`` (N, ...) in eval mode without forward caches, as a host array (N, C).

    The model's train/eval mode is restored afterwards. ``use_plan=True`` runs an
    :class:`~glassnet.inference.InferencePlan` (batch norm folded, fused layers: faster, equal within
    rounding) instead of the layer-by-layer forward, on the NumPy backend.
    """
    if use_plan and backend.name() == "numpy":  # a plan runs on the CPU; on CuPy the layers run
        from ..inference import InferencePlan  # noqa: PLC0415

        plan = InferencePlan(model)
        outs = [backend.to_numpy(plan(backend.asarray(x[i : i + batch_size]))) for i in range(0, len(x), batch_size)]
        return np.concatenate(outs) if outs else np.zeros((0, 0))
    was_training = model.training
    model.eval()
    try:
        with model.no_grad():
            outs = [backend.to_numpy(model.forward(backend.asarray(x[i : i + batch_size])))
                    for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outs) if outs else np.zeros((0, 0))


def evaluate(model, dataset, loss_fn, batch_size=512, use_plan=False):
    """Mean loss, accuracy and predictions of ``model`` on ``dataset`` (an ArrayDataset); ``use_plan``
    as in :func:`predict_scores`."""
    scores = predict_scores(model, dataset.x, batch_size, use_plan=use_plan)
    y = np.asarray(dataset.y)
    loss, _ = loss_fn(scores.astype(np.float64), y)
    pred = scores.argmax(axis=1)
    return {"loss": float(loss), "accuracy": float((pred == y).mean()), "predictions": pred}
