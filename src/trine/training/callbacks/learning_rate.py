"""Callbacks that change the learning rate: ReduceLROnPlateau and LearningRateScheduler."""
from __future__ import annotations

import inspect
import warnings
from typing import Callable, Optional

import numpy as np

from trine.training.callbacks.base import Callback, print_message

from trine.training.callbacks.monitor import MonitorCallback

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


class ReduceLROnPlateau(MonitorCallback):
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
                        print_message(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                               f"rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


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
            print_message(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            _log_lr(self.model, logs)
