"""The "X at Y" metrics: the best value of one rate where another reaches its target."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.metrics.base import Metric, _auto_name
from trine.metrics.confusion_metrics import _KINDS, _check_class_id, _confusion_counts
from trine.ops import divide_no_nan


class _AtValueBase(Metric):
    """The four counts at `num_thresholds` evenly spaced thresholds, and a constrained max."""

    _VALUE_ARG = "value"

    def __init__(self, value: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype=None):
        who = type(self).__name__
        arg = self._VALUE_ARG
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
                not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{who} expected {arg} to be a number in [0, 1], received "
                             f"{arg}={value!r}.")
        if isinstance(num_thresholds, bool) or not isinstance(
                num_thresholds, (int, np.integer)) or num_thresholds <= 0:
            raise ValueError(f"{who} expected num_thresholds to be an integer > 0, received "
                             f"num_thresholds={num_thresholds!r}.")
        _check_class_id(who, class_id)
        super().__init__(name=name or _auto_name(who), dtype=dtype)
        setattr(self, arg, value)
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._thresholds_distributed_evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0] + inner + [1.0]
            self._thresholds_distributed_evenly = True
        shape = (len(self.thresholds),)
        for var in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, var, self.add_variable(shape, "zeros", name=var))

    def _update(self, state, y_true, y_pred, sample_weight=None):
        c = _confusion_counts(
            _KINDS, y_true, y_pred, self.thresholds,
            evenly=self._thresholds_distributed_evenly, class_id=self.class_id,
            sample_weight=sample_weight, dtype=self.dtype)
        return [s + c[k] for s, k in zip(state, _KINDS)]

    def _rates(self, state):
        tp, fp, tn, fn = state
        return {"recall": divide_no_nan(tp, tp + fn),
                "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp)}

    _CONSTRAINED = "recall"
    _DEPENDENT = "precision"

    def _result(self, state):
        rates = self._rates(state)
        feasible = rates[self._CONSTRAINED] >= self.value
        return jnp.max(jnp.where(feasible, rates[self._DEPENDENT], 0), initial=0)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self._VALUE_ARG: self.value}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SensitivityAtSpecificity(_AtValueBase):
    """The best sensitivity (recall) among thresholds whose specificity is >= `specificity`.

    Args:
        specificity: the required specificity, in [0, 1].
        num_thresholds: how many evenly spaced thresholds in [0, 1] to try (default 200).
        class_id: score only this column of `y_pred` / `y_true`.
        name: default "sensitivity_at_specificity".
        dtype: default float32.

    Raises:
        ValueError: for specificity outside [0, 1] or num_thresholds <= 0.

    Example:
        >>> m = SensitivityAtSpecificity(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
        >>> float(m.result())
        0.5
    """

    _VALUE_ARG = "specificity"
    _CONSTRAINED = "specificity"
    _DEPENDENT = "recall"

    def __init__(self, specificity: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtValueBase):
    """The best specificity among thresholds whose sensitivity is >= `sensitivity`.

    Args:
        sensitivity: the required sensitivity (recall), in [0, 1].
        num_thresholds: how many evenly spaced thresholds in [0, 1] to try (default 200).
        class_id: score only this column of `y_pred` / `y_true`.
        name: default "specificity_at_sensitivity".
        dtype: default float32.

    Raises:
        ValueError: for sensitivity outside [0, 1] or num_thresholds <= 0.

    Example:
        >>> m = SpecificityAtSensitivity(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _VALUE_ARG = "sensitivity"
    _CONSTRAINED = "recall"
    _DEPENDENT = "specificity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtValueBase):
    """The best precision among thresholds whose recall is >= `recall`.

    Args:
        recall: the required recall, in [0, 1].
        num_thresholds: how many evenly spaced thresholds in [0, 1] to try (default 200).
        class_id: score only this column of `y_pred` / `y_true`.
        name: default "precision_at_recall".
        dtype: default float32.

    Raises:
        ValueError: for recall outside [0, 1] or num_thresholds <= 0.

    Example:
        >>> m = PrecisionAtRecall(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
        >>> float(m.result())
        0.5
    """

    _VALUE_ARG = "recall"
    _CONSTRAINED = "recall"
    _DEPENDENT = "precision"

    def __init__(self, recall: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtValueBase):
    """The best recall among thresholds whose precision is >= `precision`.

    Args:
        precision: the required precision, in [0, 1].
        num_thresholds: how many evenly spaced thresholds in [0, 1] to try (default 200).
        class_id: score only this column of `y_pred` / `y_true`.
        name: default "recall_at_precision".
        dtype: default float32.

    Raises:
        ValueError: for precision outside [0, 1] or num_thresholds <= 0.

    Example:
        >>> m = RecallAtPrecision(0.8)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> float(m.result())
        0.5
    """

    _VALUE_ARG = "precision"
    _CONSTRAINED = "precision"
    _DEPENDENT = "recall"

    def __init__(self, precision: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


