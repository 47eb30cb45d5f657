"""Keras callbacks: hooks called by fit / evaluate / predict.

A callback sees the model through a small interface: `model.stop_training` (a bool the
callback may set), `model.get_weights()` / `model.set_weights(list)`,
`model.save_weights(filepath, overwrite=True)`, `model.save(filepath)` and
`model.optimizer.learning_rate` (a float property; setting it changes the rate from the next
step on). Logs passed to the hooks are dicts of Python floats, sorted by name.

    early = trine.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                          restore_best_weights=True)
    model.fit(x, y, validation_split=0.1, epochs=50, callbacks=[early])
"""
from __future__ import annotations

import collections
import csv
import inspect
import math
import numbers
import os
import sys
import warnings
from typing import Any, Callable, Iterable, Optional

import numpy as np

from trine.training.progbar import Progbar

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau",
    "TensorBoard", "TerminateOnNaN",
]

_HOOKS = (
    "on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_train_begin", "on_train_end",
    "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
)


def _print(message: str) -> None:
    from trine.config import is_interactive_logging_enabled
    if not is_interactive_logging_enabled():  # keras.config: to Python logging instead
        import logging
        logging.getLogger("trine").info(message.strip("\n"))
        return
    stream = sys.stdout
    stream.write(message + "\n")
    flush = getattr(stream, "flush", None)
    if callable(flush):
        flush()


class Callback:
    """Base class of callbacks: override the hooks you need.

    Attributes:
        params: the run's parameters (`verbose`, `epochs`, `steps`), set by the trainer.
        model: the model being trained (set by the trainer through `set_model`).

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])
    """

    # True: fit's steps keep the previous weights where a step's loss is not finite, so the
    # callback can stop training on the state before it
    guards_nonfinite = False

    def __init__(self):
        self.params: Optional[dict] = None
        self._model = None

    def set_params(self, params: dict) -> None:
        """Stores the run's parameters."""
        self.params = params

    def set_model(self, model) -> None:
        """Stores the model the callback acts on."""
        self._model = model

    @property
    def model(self):
        """The model set by `set_model` (None before). Mid-epoch, reading it first writes
        the running fit's latest state into the model's variables (as Keras does on JAX):
        fit keeps the state on the device between its epoch-end syncs."""
        sync = getattr(self._model, "jax_state_sync", None)
        if sync is not None:
            sync()
        return self._model

    @model.setter
    def model(self, model) -> None:
        """`callback.model = model` is `set_model(model)`: KerasTuner's custom-training-loop
        guide assigns the model to the tuner's callbacks this way (tf.keras allowed it)."""
        self.set_model(model)

    def on_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Legacy alias of `on_train_batch_begin` (called by its default)."""

    def on_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Legacy alias of `on_train_batch_end` (called by its default)."""

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        """Called at the start of an epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        """Called at the end of an epoch with its metrics (validation ones as `val_*`)."""

    def on_train_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called before a training step; the default calls `on_batch_begin`."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called after a training step with the running metrics; default: `on_batch_end`."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called before an evaluation step."""

    def on_test_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called after an evaluation step with the running metrics."""

    def on_predict_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called before a prediction step."""

    def on_predict_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called after a prediction step."""

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        """Called at the start of `fit`."""

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        """Called at the end of `fit`."""

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        """Called at the start of `evaluate`."""

    def on_test_end(self, logs: Optional[dict] = None) -> None:
        """Called at the end of `evaluate` with the final metrics."""

    def on_predict_begin(self, logs: Optional[dict] = None) -> None:
        """Called at the start of `predict`."""

    def on_predict_end(self, logs: Optional[dict] = None) -> None:
        """Called at the end of `predict`."""


def _overrides(cb, names) -> bool:
    """Whether `cb` does something in any of the hooks `names` (False for base defaults)."""
    if not isinstance(cb, Callback):
        return True  # duck-typed callback (e.g. a keras.callbacks.Callback): always call
    own = getattr(cb, "__dict__", {})
    for name in names:
        if name in own or getattr(type(cb), name) is not getattr(Callback, name):
            return True
    return False


def _to_python(value):
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _pythonify(logs) -> dict:
    """Flattens nested dicts and converts values to Python floats where possible, sorted."""
    result = {}
    if not logs:
        return result
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(_pythonify(value))
        else:
            result[key] = _to_python(value)
    return result


class CallbackList(Callback):
    """Dispatches each hook to a list of callbacks, in order.

    Args:
        callbacks: a list (possibly nested) of callbacks, a single callback, or None.
        add_history: append a `History` callback unless one is in the list.
        add_progbar: append a `ProgbarLogger` unless one is in the list.
        model: the model to give to every callback.
        **params: the run's parameters (`verbose`, `epochs`, `steps`) for every callback.

    Attributes:
        callbacks: the callbacks, including the added History / ProgbarLogger.
        history: the `History` callback, or None.

    Raises:
        TypeError: if an entry is not a callback.

    Logs passed on are converted once per hook to a new dict of Python floats (sorted by
    name), shared by all callbacks of that call, so a callback that adds a key (as
    ReduceLROnPlateau adds "learning_rate") is seen by the ones after it (History, the bar).
    """

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False,
                 model=None, **params):
        super().__init__()
        self.callbacks = self._flatten(callbacks)
        self._dispatch_cache: dict = {}
        self.history: Optional[History] = None
        self._progbar: Optional[ProgbarLogger] = None
        for cb in self.callbacks:
            if isinstance(cb, History) and self.history is None:
                self.history = cb
            elif isinstance(cb, ProgbarLogger) and self._progbar is None:
                self._progbar = cb
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    @staticmethod
    def _flatten(callbacks) -> list:
        if callbacks is None:
            return []
        if not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        flat = []
        for item in callbacks:
            if isinstance(item, (list, tuple)):
                flat.extend(CallbackList._flatten(item))
            elif item is None:
                continue
            elif isinstance(item, Callback) or (
                    hasattr(item, "set_model") and hasattr(item, "on_epoch_end")):
                flat.append(item)
            else:
                raise TypeError(
                    "callbacks must be Callback instances (trine.callbacks.Callback "
                    f"subclasses); received {item!r} ({type(item).__name__}). Wrap a function "
                    "in trine.callbacks.LambdaCallback(on_epoch_end=fn).")
        return flat

    def append(self, callback) -> None:
        """Adds a callback at the end (it receives the current model and params)."""
        self.callbacks.extend(self._flatten([callback]))
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model) -> None:
        if model is None:
            return
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    # ------------------------------------------------------------------ dispatch
    def _targets(self, hook: str, names) -> list:
        key = (hook, len(self.callbacks))
        targets = self._dispatch_cache.get(key)
        if targets is None:
            targets = [cb for cb in self.callbacks if _overrides(cb, names)]
            self._dispatch_cache[key] = targets
        return targets

    def _call(self, hook: str, names, *args):
        targets = self._targets(hook, names)
        if not targets:
            return
        logs = _pythonify(args[-1])
        args = args[:-1] + (logs,)
        for cb in targets:
            getattr(cb, hook)(*args)

    def has_batch_hooks(self, mode: str) -> bool:
        """Whether any callback acts per batch of `mode` ("train", "test", "predict"): when
        none does, the loop need not bring each chunk's logs back to the host."""
        names = {"train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                           "on_batch_end")}.get(mode, (f"on_{mode}_batch_begin",
                                                       f"on_{mode}_batch_end"))
        return bool(self._targets(f"batch hooks of {mode}", names))

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", ("on_batch_begin",), batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", ("on_batch_end",), batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", ("on_epoch_begin",), epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", ("on_epoch_end",), epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", ("on_train_batch_begin", "on_batch_begin"),
                   batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", ("on_train_batch_end", "on_batch_end"), batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", ("on_test_batch_begin",), batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", ("on_test_batch_end",), batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", ("on_predict_batch_begin",), batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", ("on_predict_batch_end",), batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", ("on_train_begin",), logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", ("on_train_end",), logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", ("on_test_begin",), logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", ("on_test_end",), logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", ("on_predict_begin",), logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", ("on_predict_end",), logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


# ====================================================================== History / progress
class History(Callback):
    """Records the epoch logs; `fit` returns it.

    Attributes:
        history: dict mapping each metric name to its list of per-epoch values.
        epoch: the list of epoch indices recorded in the last `fit`.
    """

    def __init__(self):
        super().__init__()
        self.history: dict = {}
        self.epoch: list = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self._model is not None:
            self._model.history = self

    def plot(self, to_file=None, metrics=None, **kwargs):
        """Plot loss and metrics per epoch, training and validation (needs matplotlib).

        See `trine.inspect.plot_history`; returns the matplotlib Figure.
        """
        from trine.inspect.history import plot_history
        return plot_history(self, to_file=to_file, metrics=metrics, **kwargs)


class ProgbarLogger(Callback):
    """Prints the progress bar of fit / evaluate / predict (see `trine.training.progbar`).

    `verbose` comes from the run's params: 1 draws a bar per epoch (on a terminal; elsewhere
    only the final line), 2 prints one line per epoch. With several epochs each is announced
    with "Epoch i/n". During `fit` the validation pass is silent.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar: Optional[Progbar] = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1) or 1
        self.target = params.get("steps")

    def _reset(self):
        self.seen = 0
        self.progbar = None

    def _ensure_bar(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=())  # logs are already running means

    def _update(self, batch, logs):
        self._ensure_bar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        self._ensure_bar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._ensure_bar()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._ensure_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._reset()
        self._ensure_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # predictions are not metrics

    def on_predict_end(self, logs=None):
        self._finalize(None)


# ====================================================================== monitoring
_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2",
              "true_positives", "true_negatives", "cosine_similarity", "specificity",
              "sensitivity")
_MIN_HINTS = ("loss", "error", "crossentropy", "hinge", "divergence", "mse", "mae", "mape",
              "msle", "false_positives", "false_negatives", "poisson", "log_cosh", "logcosh")


def _model_metric_direction(model, name: str) -> Optional[str]:
    for metric in getattr(model, "metrics", None) or []:
        inner = getattr(metric, "metrics", None)
        candidates = list(inner) if isinstance(inner, (list, tuple)) else [metric]
        for m in candidates:
            if getattr(m, "name", None) == name:
                direction = getattr(m, "_direction", None) or getattr(m, "direction", None)
                if direction in ("up", "down"):
                    return direction
    return None


class _MonitorCallback(Callback):
    """Shared logic of callbacks that watch one metric for improvement."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__}: mode={mode!r} is unknown; valid modes are "
                          "'auto', 'min' and 'max'. Falling back to 'auto'.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Optional[Callable] = None

    def _set_monitor_op(self):
        """Resolves `mode` to min or max (auto: from the metric's name or direction)."""
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            direction = "down" if name == "loss" else _model_metric_direction(self._model, name)
            lowered = name.lower()
            if direction is None:
                if any(h in lowered for h in _MAX_HINTS):
                    direction = "up"
                elif any(h in lowered for h in _MIN_HINTS):
                    direction = "down"
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} received monitor={self.monitor!r}, but cannot tell "
                    "whether that metric should be maximised or minimised. Pass mode='max' to "
                    "keep the highest value, or mode='min' to keep the lowest.")
            self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            self.min_delta = -abs(self.min_delta)
        else:
            self.min_delta = abs(self.min_delta)

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))


class EarlyStopping(_MonitorCallback):
    """Stops training when a monitored metric has stopped improving.

    Args:
        monitor: the metric to watch (e.g. "val_loss", "val_accuracy").
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping / restoring.
        mode: "min", "max" or "auto" (from the name: losses and errors are minimised,
            accuracies, AUC, precision, recall... maximised).
        baseline: training stops if the metric does not get better than this within
            `patience` epochs (the wait counter only resets on beating both the baseline and
            the best so far).
        restore_best_weights: at the end of training, set the weights of the best epoch.
        start_from_epoch: epochs to wait before monitoring (warm-up).

    Raises:
        ValueError: (at the first epoch end) in auto mode for a metric whose direction is
            unknown.

    As in Keras, training is never stopped at the end of the first epoch (epoch 0), and the
    best weights are restored at the end of training even when it ran to completion.

    Example:
        >>> cb = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def get_monitor_value(self, logs) -> Optional[float]:
        """The monitored value in `logs` (warns and returns None when it is missing)."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric '{self.monitor}', which is not "
                f"available. Available metrics are: {', '.join(logs)}.", stacklevel=3)
        return value

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print("Restoring model weights from the end of the best epoch: "
                       f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _optimizer_of(model, who: str):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(
            f"{who} needs a compiled model whose optimizer has a learning_rate; received "
            f"optimizer={optimizer!r}. Call model.compile(optimizer=...) first.")
    return optimizer


def _float_lr(optimizer, who: str) -> float:
    lr = optimizer.learning_rate
    if lr is None or callable(lr):
        raise TypeError(
            f"{who} needs an optimizer with a float learning_rate, but it is "
            f"{lr!r}. Create the optimizer with a float learning_rate (a schedule already "
            "changes the rate by itself; an optax transformation needs "
            "optax.inject_hyperparams).")
    return float(lr)


def _log_lr(model, logs: dict) -> None:
    optimizer = getattr(model, "optimizer", None)
    lr = getattr(optimizer, "learning_rate", None)
    if lr is not None and not callable(lr):
        logs["learning_rate"] = float(lr)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiplies the learning rate by `factor` when a metric has stopped improving.

    Args:
        monitor: the metric to watch.
        factor: the multiplier, < 1.
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message on each reduction.
        mode: "min", "max" or "auto" (see `EarlyStopping`).
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the learning rate never goes below this.

    Raises:
        ValueError: if `factor >= 1`.
        TypeError: (when reducing) if the optimizer's learning rate is a schedule.

    Every epoch it adds the current rate to the logs as "learning_rate" (so History and the
    progress bar show it), as Keras 3 does.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}.")
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau: factor must be < 1 (the learning rate is multiplied by "
                f"it), received factor={factor}. Use e.g. factor=0.1.")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        """Whether the callback is waiting after a reduction."""
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        _log_lr(self.model, logs)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric '{self.monitor}', which is "
                f"not available. Available metrics are: {', '.join(logs)}.", stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = _optimizer_of(self.model, "ReduceLROnPlateau")
                old_lr = _float_lr(optimizer, "ReduceLROnPlateau")
                # compared in float32, the precision the rate has in the optimizer state
                if np.float32(old_lr) > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                               f"rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class ModelCheckpoint(_MonitorCallback):
    """Saves the model or its weights every epoch (or every `save_freq` batches).

    Args:
        filepath: where to save; may contain `{epoch:02d}` (1-based), `{batch}` and any log
            key, e.g. "ckpt/model-{epoch:02d}-{val_loss:.2f}.keras". Must end in ".keras"
            (or ".h5"), or ".weights.h5" with `save_weights_only=True`.
        monitor: the metric for `save_best_only`.
        verbose: 1 prints a message per save.
        save_best_only: only save when the monitored metric improves.
        save_weights_only: call `model.save_weights(path, overwrite=True)` instead of
            `model.save(path)`.
        mode: "min", "max" or "auto" (see `EarlyStopping`).
        save_freq: "epoch", or an int: save every that many batches.
        initial_value_threshold: with `save_best_only`, the value to beat first.

    Raises:
        ValueError: for a bad `save_freq` or file extension.
        KeyError: (when saving) if `filepath` names a key that is not in the logs.
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq="epoch",
                 initial_value_threshold: Optional[float] = None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                f"ModelCheckpoint: save_freq must be 'epoch' or a positive integer (a number "
                f"of batches), received save_freq={save_freq!r}.")
        self.save_freq = save_freq
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                f"'.weights.h5', received filepath={self.filepath!r}.")
        if not save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "ModelCheckpoint: the filepath must end in '.keras' (the model format), "
                f"received filepath={self.filepath!r}. Or pass save_weights_only=True with a "
                "'.weights.h5' path.")
        self._batches_since_save = 0
        self._last_batch_seen: Optional[int] = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started
        else:
            added = batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_since_save += added
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch, batch, logs) -> str:
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint could not format filepath={self.filepath!r}: no value for "
                f"{e}. Available keys: epoch, batch, {', '.join(logs)}.") from None

    def _should_save(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"ModelCheckpoint can save the best model only with {self.monitor} "
                          "available; saving anyway.", stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                       f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch, batch, logs):
        if self.monitor_op is None:
            self._set_monitor_op()
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing directory. Give a file "
                "path, e.g. os.path.join(dir, 'model.keras').")
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        model = self.model
        if batch is not None:
            sync = getattr(model, "jax_state_sync", None)
            if callable(sync):  # mid-epoch: ask the trainer to write values back first
                sync()
        if self.save_weights_only:
            model.save_weights(filepath, overwrite=True)
        else:
            model.save(filepath)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


# ====================================================================== others
class BackupAndRestore(Callback):
    """Back up the whole training state at every epoch end; a restarted fit resumes from it.

    After epoch `n` the backup is `backup_dir/epoch-<n>.weights.h5` (weights, non-trainable
    state, optimizer state and step, written by `save_weights`), then the manifest
    `backup_dir/training_state.json` (`{"epoch": n}`, the epochs done), which names that
    file by its epoch. The manifest is replaced atomically and written last, so a kill at any
    point leaves a manifest naming a complete weights file of the same epoch; older weights
    files are removed only after the new manifest is in place. When `fit` starts and a backup
    exists, the model loads it and training resumes at the next epoch. Shuffling and dropout
    draw their keys from the seed, the epoch and the step, so a run killed at any point (even
    SIGKILL mid-epoch or mid-backup) and restarted with the same command and seed ends with
    the weights of an unbroken run. The backup is deleted when training ends normally
    (`delete_checkpoint=True`).

    Args:
        backup_dir: directory for the backup (created if missing).
        save_freq: "epoch" (only this: resuming inside an epoch would need the data
            position, which trine does not back up; an epoch is redone instead).
        delete_checkpoint: remove the backup when fit ends without interruption.

    Raises:
        ValueError: for an empty backup_dir or a save_freq other than "epoch"; when fit
            starts on a backup directory whose manifest is malformed or names a missing file.
    """

    _LEGACY_WEIGHTS = "latest.weights.h5"  # what trine wrote before the manifest named a file

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir must be a directory path, "
                             f"received {backup_dir!r}.")
        if save_freq != "epoch":
            raise ValueError(
                "BackupAndRestore: only save_freq='epoch' is supported (an interrupted epoch "
                f"is redone from the last epoch's backup), received save_freq={save_freq!r}.")
        if double_checkpoint:
            raise ValueError("BackupAndRestore: double_checkpoint is not supported; the backup "
                             "is replaced atomically instead.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._state = os.path.join(self.backup_dir, "training_state.json")
        self._interrupted = False

    def _weights_path(self, epochs_done):
        return os.path.join(self.backup_dir, f"epoch-{int(epochs_done)}.weights.h5")

    def _weights_files(self):
        """Every weights file of this backup directory (any epoch's, the legacy name's)."""
        try:
            names = os.listdir(self.backup_dir)
        except OSError:
            return []
        return [os.path.join(self.backup_dir, n) for n in names
                if n == self._LEGACY_WEIGHTS or (n.startswith("epoch-") and n.endswith(".weights.h5")
                                                 and n[6:-11].isdigit())]

    def on_train_begin(self, logs=None):
        import json
        self._interrupted = True
        if not os.path.exists(self._state):
            return
        with open(self._state) as f:
            state = json.load(f)
        epoch = state.get("epoch") if isinstance(state, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(
                f"BackupAndRestore: {self._state} is not a backup trine wrote (expected "
                f'{{"epoch": <int >= 0>}}, found {state!r}). Delete the directory to start over.')
        weights = self._weights_path(epoch)
        if not os.path.exists(weights):
            legacy = os.path.join(self.backup_dir, self._LEGACY_WEIGHTS)
            if not os.path.exists(legacy):
                raise ValueError(
                    f"BackupAndRestore: {self._state} says {epoch} epochs are done but their "
                    f"weights file {weights} is missing. Delete the directory to start over.")
            weights = legacy
        self.model.load_weights(weights)
        self.model._initial_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        import json
        from trine._util.atomic import atomic_write
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = self._weights_path(int(epoch) + 1)
        self.model.save_weights(weights, overwrite=True)
        # the commit point: until this replace, the manifest names the previous epoch's file
        manifest = json.dumps({"epoch": int(epoch) + 1}).encode()
        atomic_write(self._state, lambda f: f.write(manifest), what="backup manifest")
        for path in self._weights_files():
            if path != weights:
                os.remove(path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:  # reached only when fit ends without an exception
            for path in [self._state] + self._weights_files():
                if os.path.exists(path):
                    os.remove(path)
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite.

    Args:
        raise_error: raise a RuntimeError instead of setting `model.stop_training`.
    """

    guards_nonfinite = True

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if isinstance(loss, numbers.Number) and not math.isfinite(float(loss)):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch} (loss={loss}); training "
                    "terminated.")
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def _takes_two_args(fn) -> Optional[bool]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    positional = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch from a function of the epoch.

    Args:
        schedule: `schedule(epoch, lr) -> new lr` or `schedule(epoch) -> new lr` (epoch is
            0-based, lr the current float rate).
        verbose: 1 prints the new rate each epoch.

    Raises:
        ValueError: if the schedule returns something that is not a number.
        TypeError: if the optimizer's learning rate is a schedule or missing.

    Example:
        >>> cb = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function schedule(epoch, lr) or "
                f"schedule(epoch); received {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of(self.model, "LearningRateScheduler")
        two = _takes_two_args(self.schedule)
        if two is None:  # no signature (a builtin): try the new API, then the old one
            try:
                lr = self.schedule(epoch, _float_lr(optimizer, "LearningRateScheduler"))
            except TypeError:
                lr = self.schedule(epoch)
        elif two:
            lr = self.schedule(epoch, _float_lr(optimizer, "LearningRateScheduler"))
        else:
            lr = self.schedule(epoch)
        value = None
        if not isinstance(lr, (bool, str)) and np.ndim(lr) == 0:
            try:
                value = float(lr)
            except (TypeError, ValueError):
                value = None
        if value is None:
            raise ValueError(
                "LearningRateScheduler: the schedule function must return a float, it "
                f"returned {lr!r} ({type(lr).__name__}) for epoch {epoch}.")
        lr = value
        optimizer.learning_rate = lr
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            _log_lr(self.model, logs)


class CSVLogger(Callback):
    """Streams the epoch logs to a CSV file (one row per epoch, columns sorted by name).

    Args:
        filename: the CSV file.
        separator: the column separator.
        append: append to an existing file (the header is written only if it is empty).

    As in Keras, when the first epoch has no validation keys the header also gets `val_*`
    columns for every key (filled with "NA").
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.writer = None
        self.keys: Optional[list] = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r", encoding="utf-8") as f:
                    self.append_header = not bool(f.readline())
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    @staticmethod
    def _cell(value):
        if isinstance(value, str):
            return value
        if isinstance(value, Iterable) and not (isinstance(value, np.ndarray)
                                                and value.ndim == 0):
            return f'"[{", ".join(map(str, value))}]"'
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((k, self._cell(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LambdaCallback(Callback):
    """A callback built from functions.

    Args:
        on_epoch_begin: `fn(epoch, logs)`.
        on_epoch_end: `fn(epoch, logs)`.
        on_train_begin: `fn(logs)`.
        on_train_end: `fn(logs)`.
        on_train_batch_begin: `fn(batch, logs)`.
        on_train_batch_end: `fn(batch, logs)`.
        **kwargs: any other hook by name (e.g. `on_test_end=fn`, `on_batch_end=fn`).

    Raises:
        TypeError: for a keyword that is not a hook name, or a value that is not callable.

    Example:
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, fn in kwargs.items():
            if name not in _HOOKS:
                raise TypeError(
                    f"LambdaCallback: unexpected keyword argument {name!r}; valid hook names "
                    f"are {', '.join(_HOOKS)}.")
            hooks[name] = fn
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, received {fn!r}.")
            setattr(self, name, fn)


from trine.training.tensorboard import TensorBoard  # noqa: E402 - it subclasses Callback
