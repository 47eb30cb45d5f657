"""Callbacks that stop training: EarlyStopping (a monitored metric stopped improving) and
TerminateOnNaN (a batch's loss is not finite)."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Optional

from trine.training.callbacks.base import Callback, print_message

from trine.training.callbacks.monitor import MonitorCallback

class EarlyStopping(MonitorCallback):
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
            print_message(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_message("Restoring model weights from the end of the best epoch: "
                       f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


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
            print_message(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
