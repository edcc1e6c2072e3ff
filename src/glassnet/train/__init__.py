"""Training: the Solver, checkpoints, metrics, plots and the divergence guard."""
from .checkpoint import load_checkpoint, save_checkpoint
from .evaluate import evaluate, predict_scores
from .guard import TrainingDiverged
from .metrics import confusion_matrix
from .plots import plot_confusion, plot_history
from .solver import Solver

__all__ = ["Solver", "TrainingDiverged", "evaluate", "predict_scores", "confusion_matrix",
           "save_checkpoint", "load_checkpoint", "plot_history", "plot_confusion"]
