"""A scikit-learn classifier around a glassnet network: ``fit`` / ``predict`` / ``predict_proba`` / ``score``.

``GlassnetClassifier`` trains a zoo model (or any builder) with glassnet's :class:`~glassnet.train.Solver`
and the optimizers and schedules of ``glassnet train`` (:func:`glassnet.train.run.config_optimizer`,
:func:`~glassnet.train.run.make_schedule`), so it works in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and friends. scikit-learn is imported here only.
"""
from __future__ import annotations

import inspect
import numbers
from math import prod

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import backend
from .data import ArrayDataset, DataLoader
from .functional import softmax
from .models import MODELS, build_model
from .nn import BatchNorm1d, BatchNorm2d, CrossEntropyLoss, Module
from .train import Solver, predict_scores
from .train.run import DEFAULTS, config_optimizer, make_schedule

_DTYPES = {"float32": np.float32, "float64": np.float64}


class GlassnetClassifier(ClassifierMixin, BaseEstimator):
    """A glassnet network as a scikit-learn classifier.

    Parameters
    ----------
    model : str or callable, default "classic_cnn"
        A zoo model name (``two_layer_net``, ``classic_cnn``, ``lenet5``, ``vgg_small``) or a
        builder ``model(input_shape, num_classes, **model_kwargs) -> glassnet.nn.Module`` (given
        ``seed=`` too when it has a ``seed`` parameter).
    epochs, batch_size, lr : training length, minibatch size and learning rate.
    optimizer : "sgd", "nesterov", "rmsprop", "adam" or "adamw" (as ``glassnet train --optimizer``).
    weight_decay, momentum : passed to the optimizer (momentum for sgd, nesterov and rmsprop).
    schedule : "none", "cosine" or "step" (learning-rate schedule over the epochs).
    input_shape : (C, H, W) or None
        The shape one sample is reshaped to. ``X`` may be flat ``(N, D)`` with ``D = C*H*W`` (e.g.
        after a ``StandardScaler``) or already ``(N, C, H, W)``. Left as None, ``(N, C, H, W)`` input
        is taken as it is, ``(N, H, W)`` gets one channel and flat ``(N, D)`` features become
        ``D`` channels of a 1x1 image (every zoo model runs on those).
    dropout : float or None - the zoo model's dropout probability (None: the model's default).
    model_kwargs : dict or None - more keyword arguments for the builder (e.g. ``{"channels": (8, 16)}``).
    dtype : "float32" or "float64" - the dtype of the weights and of the computation.
    seed : int or None
        Seeds the initial weights, the minibatch order and the dropout masks: two fits with the same
        seed and data give the same network. None draws a fresh seed per fit. (This is
        scikit-learn's ``random_state``, under glassnet's name for it.)
    verbose : bool - show glassnet's progress bars and per-epoch lines.

    Attributes
    ----------
    classes_ : the class labels (any type; the network's output ``i`` is ``classes_[i]``).
    n_features_in_ : ``X.shape[1]`` seen in ``fit``.
    input_shape_ : the (C, H, W) shape the network takes.
    model_ : the trained glassnet ``Sequential`` (save it with ``glassnet.io.save``, export it
        with ``glassnet.io.to_onnx(model_, path, input_shape_)``).
    history_ : per-epoch training history of the Solver (loss, accuracy, learning rate, speed).
    seed_ : the seed the fit used.

    scikit-learn's ``check_estimator`` passes with no check skipped or expected to fail (with the
    defaults, and in ``tests/test_sklearn.py`` with a small MLP and a small batch-norm CNN). Two checks
    skip themselves where their requirements are missing, not because of this estimator:
    ``check_array_api_input`` (needs ``SCIPY_ARRAY_API=1`` and an array-API library) and
    ``check_classifier_data_not_an_array`` (needs pandas). The accuracy checks
    (``check_classifiers_train``, ``check_classifiers_classes``) need enough training steps for their
    small blob data sets: with very few epochs or a tiny learning rate they fail, as they would for
    any under-trained network. ``check_estimators_pickle(readonly_memmap=True)`` compares float32
    predictions of the estimator and of a copy whose weights were reloaded as read-only memmaps at
    rtol=1e-7: when glassnet's compiled (numba) kernels are active, the memmap copy runs the NumPy
    reference kernels, and the two summation orders can differ by that much in float32 (the test
    runs its batch-norm CNN in float64 for this reason).

    A model with batch normalisation refuses ``n_samples=1`` and ``batch_size=1`` (batch statistics
    of one sample), and drops a last minibatch of one sample.
    """

    def __init__(self, model="classic_cnn", epochs=10, batch_size=64, lr=1e-3, optimizer="adamw", weight_decay=0.01,
                 momentum=0.9, schedule="none", input_shape=None, dropout=None, model_kwargs=None, dtype="float32",
                 seed=0, verbose=False):
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.schedule = schedule
        self.input_shape = input_shape
        self.dropout = dropout
        self.model_kwargs = model_kwargs
        self.dtype = dtype
        self.seed = seed
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    def _dtype(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        return np.dtype(_DTYPES[self.dtype])

    def _fit_shape(self, X):
        """The (C, H, W) shape samples of ``X`` become, from ``input_shape`` or from ``X`` itself."""
        if self.input_shape is not None:
            shape = tuple(int(d) for d in self.input_shape)
            if len(shape) != 3 or min(shape) < 1:
                raise ValueError(f"input_shape must be (C, H, W) of positive sizes, got {self.input_shape!r}")
            if prod(shape) != prod(X.shape[1:]):
                raise ValueError(f"input_shape {shape} needs {prod(shape)} values per sample, but X has samples "
                                 f"of shape {X.shape[1:]} ({prod(X.shape[1:])} values)")
            if X.ndim == 4 and X.shape[1:] != shape:
                raise ValueError(f"X holds images of shape {X.shape[1:]} but input_shape is {shape}")
            return shape
        if X.ndim == 2:
            return (X.shape[1], 1, 1)
        if X.ndim == 3:
            return (1, *X.shape[1:])
        if X.ndim == 4:
            return X.shape[1:]
        raise ValueError(f"X must be (N, D), (N, H, W) or (N, C, H, W), got shape {X.shape}")

    def _as_images(self, X, shape):
        if X.shape[1:] != tuple(shape):
            if X.ndim == 4 or prod(X.shape[1:]) != prod(shape):
                raise ValueError(f"{type(self).__name__} was fitted on samples of shape {tuple(shape)}, "
                                 f"got X of shape {X.shape}")
            X = X.reshape(len(X), *shape)
        return np.ascontiguousarray(X, dtype=self._dtype())

    def _build(self, input_shape, num_classes, seed):
        kwargs = dict(self.model_kwargs or {})
        if isinstance(self.model, str):
            if self.model not in MODELS:
                raise ValueError(f"unknown model {self.model!r}: choose one of {', '.join(MODELS)} or pass a builder")
            kwargs.setdefault("seed", seed)
            dropout = kwargs.pop("dropout", None) if self.dropout is None else self.dropout  # the parameter wins
            return build_model(self.model, input_shape, num_classes, dropout=dropout, **kwargs)
        if not callable(self.model):
            raise ValueError(f"model must be a zoo model name or a callable builder, got {self.model!r}")
        if self.dropout is not None:
            kwargs["dropout"] = self.dropout
        try:
            takes_seed = "seed" in inspect.signature(self.model).parameters
        except (TypeError, ValueError):  # a callable without a signature
            takes_seed = False
        if takes_seed:
            kwargs.setdefault("seed", seed)
        net = self.model(input_shape, num_classes, **kwargs)
        if not isinstance(net, Module):
            raise ValueError(f"the model builder returned {type(net).__name__}, not a glassnet Module")
        return net

    def _drop_last(self, model, n):
        """Batch norm cannot train on a batch of one sample: drop a last batch of one (a different sample
        each epoch, as the order is shuffled); refuse a training set of one sample."""
        if not any(isinstance(m, (BatchNorm1d, BatchNorm2d)) for m in model.modules()):
            return False
        if n == 1:
            raise ValueError("the model has batch normalisation, which cannot train on n_samples=1")
        if self.batch_size == 1:
            raise ValueError("the model has batch normalisation, which cannot train on batches of one sample "
                             "(batch_size=1)")
        return n % min(self.batch_size, n) == 1

    def _config(self):
        """The ``glassnet train`` configuration of this estimator's optimizer and schedule."""
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        return {**DEFAULTS, "optimizer": self.optimizer, "lr": float(self.lr), "weight_decay": float(self.weight_decay),
                "momentum": float(self.momentum), "schedule": self.schedule, "epochs": int(self.epochs)}

    # ---------------------------------------------------------------- scikit-learn API
    def fit(self, X, y):
        """Train a fresh network on ``X`` and labels ``y``; return self."""
        X, y = validate_data(self, X, y, allow_nd=True, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        cfg = self._config()
        classes, y_index = np.unique(y, return_inverse=True)
        input_shape = tuple(int(d) for d in self._fit_shape(X))
        X = self._as_images(X, input_shape)
        seed = int(self.seed) if self.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        with backend.default_dtype(self._dtype()):
            model = self._build(input_shape, len(classes), seed)
            optimizer = config_optimizer(cfg, model.parameters())
            loader = DataLoader(ArrayDataset(X, y_index.astype(np.int64)), self.batch_size, seed=seed,
                                drop_last=self._drop_last(model, len(X)))
            solver = Solver(model, loader, optimizer, CrossEntropyLoss(), scheduler=make_schedule(cfg, optimizer),
                            epochs=cfg["epochs"], seed=seed, restore_best=False, train_eval_samples=0,
                            progress=bool(self.verbose))
            solver.fit()
        # fitted attributes only once training succeeded
        self.classes_, self.input_shape_, self.seed_ = classes, input_shape, seed
        self.model_, self.history_ = model.eval(), solver.history
        return self

    def __sklearn_is_fitted__(self):
        """Fitted once a network was trained (``n_features_in_`` alone is set before training starts)."""
        return hasattr(self, "model_")

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=[np.float64, np.float32])
        X = self._as_images(X, self.input_shape_)
        with backend.default_dtype(self._dtype()):  # predict_scores makes batches in the default dtype
            return predict_scores(self.model_, X).astype(np.float64)

    def predict_proba(self, X):
        """Class probabilities (N, n_classes), columns in the order of ``classes_`` (softmax of the scores)."""
        return softmax(self._scores(X), axis=1)

    def predict(self, X):
        """The most probable class label of each sample."""
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]
