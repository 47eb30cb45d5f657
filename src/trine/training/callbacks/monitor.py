"""The shared logic of callbacks that watch one metric for improvement (early stopping,
plateaus, best-only checkpoints): which direction is better, and by how much."""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import numpy as np

from trine.training.callbacks.base import Callback

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


class MonitorCallback(Callback):
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
