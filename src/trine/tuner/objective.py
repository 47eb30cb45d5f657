"""KerasTuner's `Objective`: which logged metric a search optimizes, and in which direction."""
from __future__ import annotations

from typing import Optional

# Metric names whose larger value is better (Keras's names for them, with and without val_).
_MAX_NAMES = {
    "acc", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "true_positives",
    "true_negatives", "precision", "recall", "auc", "sensitivity_at_specificity",
    "specificity_at_sensitivity", "f1_score", "fbeta_score", "r2_score",
    "precision_at_recall", "recall_at_precision",
}
_MIN_NAMES = {
    "loss", "crossentropy", "ce", "mse", "mae", "mape", "msle", "mean_squared_error",
    "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
    "root_mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "kld", "poisson", "log_cosh", "logcosh", "huber", "false_positives",
    "false_negatives", "cosine_similarity_loss",
}


def infer_metric_direction(name: str) -> Optional[str]:
    """"max" or "min" for a known Keras metric name (prefixes val_ and weighted_ allowed),
    None when unknown."""
    base = name[4:] if name.startswith("val_") else name
    base = base[9:] if base.startswith("weighted_") else base
    if base in _MAX_NAMES:
        return "max"
    if base in _MIN_NAMES or base.endswith("_loss"):
        return "min"
    return None


class Objective:
    """The metric to optimize and its direction.

    Args:
        name: the metric's name in fit's logs, e.g. "val_accuracy".
        direction: "min" or "max".

    Raises:
        ValueError: for another direction.
    """

    def __init__(self, name: str, direction: str):
        if direction not in ("min", "max"):
            raise ValueError(f"Objective({name!r}): direction must be 'min' or 'max', received "
                             f"{direction!r}.")
        self.name = name
        self.direction = direction

    def has_value(self, logs: dict) -> bool:
        return self.name in logs

    def get_value(self, logs: dict) -> float:
        return float(logs[self.name])

    def better_than(self, a: float, b: float) -> bool:
        return (a > b) if self.direction == "max" else (a < b)

    @property
    def names(self) -> list:
        return [self.name]

    def __eq__(self, other) -> bool:
        return isinstance(other, Objective) and (self.name, self.direction) == (other.name,
                                                                                other.direction)

    def __hash__(self):
        return hash((self.name, self.direction))

    def __str__(self) -> str:
        return f'Objective(name="{self.name}", direction="{self.direction}")'

    __repr__ = __str__


class DefaultObjective(Objective):
    """The objective when none is given: minimize the value `run_trial` returns."""

    def __init__(self):
        super().__init__("default_objective", "min")


class MultiObjective(Objective):
    """Several objectives folded into one value to minimize (KerasTuner's rule: the sum of
    the "min" metrics minus the sum of the "max" ones)."""

    def __init__(self, objectives: list):
        super().__init__("multi_objective", "min")
        self.objectives = list(objectives)
        self.name_to_direction = {o.name: o.direction for o in self.objectives}

    @property
    def names(self) -> list:
        return [o.name for o in self.objectives]

    def has_value(self, logs):
        return all(n in logs for n in self.name_to_direction)

    def get_value(self, logs):
        total = 0.0
        for name, direction in self.name_to_direction.items():
            total += float(logs[name]) if direction == "min" else -float(logs[name])
        return total

    def __str__(self):
        return "MultiObjective: [" + ", ".join(map(str, self.objectives)) + "]"

    __repr__ = __str__


def create_objective(objective) -> Objective:
    """Resolve None, a metric name, an Objective or a list of them.

    Raises:
        TypeError: for another type; ValueError: for a name whose direction is unknown.
    """
    if objective is None:
        return DefaultObjective()
    if isinstance(objective, (list, tuple)):
        if not objective:
            raise ValueError("objective: an empty list; pass a metric name or Objective(s).")
        if len(objective) == 1:
            return create_objective(objective[0])
        return MultiObjective([create_objective(o) for o in objective])
    if isinstance(objective, Objective):
        return objective
    if not isinstance(objective, str):
        raise TypeError(f"objective not understood: expected a str, an Objective or a list, "
                        f"received {objective!r} of type {type(objective).__name__}.")
    direction = infer_metric_direction(objective)
    if direction is None:
        raise ValueError(
            f'Could not infer the optimization direction ("min" or "max") for the unknown '
            f'metric "{objective}". Pass it as an Objective, for example '
            f'trine.tuner.Objective("{objective}", direction="min").')
    return Objective(objective, direction)
