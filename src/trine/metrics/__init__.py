"""Metrics (Keras `keras.metrics`) with a pure, jit-safe core.

A metric keeps its running state in `variables` (trine `Variable`s made by
`add_variable`). The jitted trainer never touches them: it threads plain arrays through

    state = metric.stateless_reset_state()
    state = metric.stateless_update_state(state, y_true, y_pred, sample_weight)
    value = metric.stateless_result(state)

(the names of Keras 3's JAX stateless API). The stateful Keras API (`update_state`,
`result`, `reset_state`, calling the metric) is built on the same functions and stores the
state in the variables.

A subclass written the Keras way (create variables with `add_variable` in `__init__`,
implement `update_state` with `variable.assign_add(...)` and `result`) gets the stateless
methods for free: they run its code under a `StatelessScope` that swaps arrays in for the
variables and collects the assignments.

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(jnp.array([0, 1]), jnp.array([[0.9, 0.1], [0.8, 0.2]]))
    >>> float(m.result())
    0.5
"""
from __future__ import annotations

from typing import Any, Sequence

from trine._util import keras_names
from trine.losses import (binary_crossentropy, binary_focal_crossentropy,
                          categorical_crossentropy, categorical_focal_crossentropy,
                          categorical_hinge, cosine_similarity, hinge, huber, kl_divergence,
                          log_cosh, mean_absolute_error, mean_absolute_percentage_error,
                          mean_squared_error, mean_squared_logarithmic_error, poisson,
                          sparse_categorical_crossentropy, squared_hinge)
from trine.metrics.accuracy_metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                            SparseCategoricalAccuracy,
                                            SparseTopKCategoricalAccuracy,
                                            TopKCategoricalAccuracy, accuracy, binary_accuracy,
                                            categorical_accuracy, sparse_categorical_accuracy,
                                            sparse_top_k_categorical_accuracy,
                                            top_k_categorical_accuracy)
from trine.metrics.at_value_metrics import (PrecisionAtRecall, RecallAtPrecision,
                                            SensitivityAtSpecificity, SpecificityAtSensitivity)
from trine.losses.base import keras_class_record as _keras_class_record
from trine.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from trine.metrics.confusion_metrics import (AUC, FalseNegatives, FalsePositives, Precision,
                                             Recall, TrueNegatives, TruePositives)
from trine.metrics.f_score_metrics import F1Score, FBetaScore
from trine.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from trine.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from trine.metrics.probabilistic_metrics import (BinaryCrossentropy, CategoricalCrossentropy,
                                                 KLDivergence, Poisson,
                                                 SparseCategoricalCrossentropy)
from trine.metrics.regression_metrics import (ConcordanceCorrelation, CosineSimilarity,
                                              LogCoshError, MeanAbsoluteError,
                                              MeanAbsolutePercentageError, MeanSquaredError,
                                              MeanSquaredLogarithmicError, PearsonCorrelation,
                                              R2Score, RootMeanSquaredError,
                                              concordance_correlation, pearson_correlation)

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "RootMeanSquaredError",
    "CosineSimilarity", "LogCoshError", "Hinge", "SquaredHinge", "CategoricalHinge",
    "KLDivergence", "Poisson", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "poisson", "log_cosh", "cosine_similarity",
    "get", "serialize", "deserialize", "resolve_accuracy",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision",
    "Recall", "AUC", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
    "SpecificityAtSensitivity", "FBetaScore", "F1Score", "R2Score",
    "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation",
    "ConcordanceCorrelation", "binary_focal_crossentropy", "categorical_focal_crossentropy",
    "concordance_correlation", "huber", "pearson_correlation",
]



# ------------------------------------------------------------------------ lookup
_CLASS_LIST = (Mean, Sum, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
               MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity,
               LogCoshError, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
               BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
               Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
               TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
               TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall,
               AUC, F1Score, FBetaScore, R2Score, PearsonCorrelation, ConcordanceCorrelation)
# Keras lists these names too, but the classes need their target value, so a bare name
# cannot make one: `get` explains that instead of failing on the missing argument.
_NEED_TARGET = {PrecisionAtRecall: "recall", RecallAtPrecision: "precision",
                SensitivityAtSpecificity: "specificity", SpecificityAtSensitivity: "sensitivity"}
_BY_NAME: dict[str, type] = {}
for _c in _CLASS_LIST:
    _BY_NAME[_c.__name__] = _c
    _BY_NAME[keras_names.keras_snake_case(_c.__name__)] = _c
_NEED_TARGET_NAMES = {n: c for c in _NEED_TARGET
                      for n in (c.__name__, keras_names.keras_snake_case(c.__name__))}
_BY_NAME.update({
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "acc": Accuracy,
})
del _c
# the IoU classes need num_classes, so a bare name cannot make one: only configs resolve them
_ALL_CLASSES = {c.__name__: c for c in _CLASS_LIST + tuple(_NEED_TARGET)
                + (Metric, MeanMetricWrapper, IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU)}


def _valid_names() -> list[str]:
    return sorted(_BY_NAME)


def get(identifier: Any) -> Metric | None:
    """Resolve a metric identifier to a `Metric`.

    A name gives an instance of the class it names, named with the string given (as
    `compile(metrics=[...])` names it, so the logs say "mae"): e.g. "mse",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy", "MeanAbsoluteError".
    "accuracy" given here means exact-match `Accuracy`; `compile` resolves "accuracy" /
    "acc" from the shapes instead, with `resolve_accuracy`.

    Args:
        identifier: None, a name, a config dict, a Metric class or instance, or a callable
            `(y_true, y_pred) -> per-sample values` (wrapped in a MeanMetricWrapper named
            after it).

    Returns:
        A `Metric`, or None for None.

    Raises:
        ValueError: for an unknown name (the valid names are listed) or an identifier of
            another kind.

    Example:
        >>> get("mae").name
        'mae'
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None and identifier in _NEED_TARGET_NAMES:
            need = _NEED_TARGET_NAMES[identifier]
            arg = _NEED_TARGET[need]
            raise ValueError(
                f"Metric {identifier!r} needs its target {arg}, which a name cannot give. "
                f"Pass an instance instead, e.g. metrics.{need.__name__}({arg}=0.5).")
        if cls is None:
            raise ValueError(
                f"Unknown metric {identifier!r}. Valid names: {_valid_names()} (and "
                "'accuracy' / 'acc', resolved from the loss and shapes by compile). Pass one "
                "of these, a Metric instance, or a callable (y_true, y_pred) -> values.")
        return cls(name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "name", None)  # else named after the callable
        return MeanMetricWrapper(identifier, name=name if isinstance(name, str) else None)
    raise ValueError(
        f"Could not interpret metric {identifier!r} of type {type(identifier).__name__}: "
        f"expected a name (one of {_valid_names()}), a Metric or a callable.")


def resolve_accuracy(name: str, loss: Any, y_true_shape: Sequence | None,
                     y_pred_shape: Sequence) -> Metric:
    """Resolve "accuracy" / "acc" (or "crossentropy" / "ce") for one output, as Keras 3 does.

    Keras picks from the shapes: a last `y_pred` axis of size 1 means binary; a `y_true` of
    lower rank than `y_pred`, or a last `y_true` axis of size 1 with more than one class,
    means sparse labels; otherwise one-hot labels. When `y_true_shape` is unknown (None),
    a sparse categorical loss means sparse labels. The loss's `from_logits` is carried over
    to the crossentropy metrics.

    Args:
        name: "accuracy", "acc", "crossentropy" or "ce" (any case); the metric keeps it as
            its name.
        loss: the output's loss (a Loss, a function or None).
        y_true_shape: the shape of the targets, or None if unknown.
        y_pred_shape: the shape of the predictions.

    Returns:
        A BinaryAccuracy / SparseCategoricalAccuracy / CategoricalAccuracy (or the matching
        crossentropy metric) named `name`.

    Raises:
        ValueError: for another name.

    Example:
        >>> resolve_accuracy("accuracy", None, (32,), (32, 10)).__class__.__name__
        'SparseCategoricalAccuracy'
    """
    key = str(name).lower()
    if key not in ("accuracy", "acc", "crossentropy", "ce"):
        raise ValueError(
            f"resolve_accuracy expected 'accuracy', 'acc', 'crossentropy' or 'ce', received "
            f"{name!r}. Use metrics.get({name!r}) for other metrics.")
    y_pred_shape = tuple(y_pred_shape)
    p_last = y_pred_shape[-1] if y_pred_shape else None
    is_binary = p_last == 1
    if y_true_shape is not None:
        y_true_shape = tuple(y_true_shape)
        t_last = y_true_shape[-1] if y_true_shape else None
        is_sparse = (len(y_true_shape) < len(y_pred_shape)
                     or (t_last == 1 and p_last is not None and p_last > 1))
    else:
        lname = str(getattr(loss, "name", None) or getattr(getattr(loss, "fn", None),
                                                            "__name__", None)
                    or getattr(loss, "__name__", "")).lower()
        is_sparse = "sparse" in lname or getattr(loss, "sparse_labels", False)
    if key in ("accuracy", "acc"):
        if is_binary:
            return BinaryAccuracy(name=str(name))
        if is_sparse:
            return SparseCategoricalAccuracy(name=str(name))
        return CategoricalAccuracy(name=str(name))
    from_logits = bool(getattr(loss, "from_logits", False))
    if is_binary:
        return BinaryCrossentropy(name=str(name), from_logits=from_logits)
    if is_sparse:
        return SparseCategoricalCrossentropy(name=str(name), from_logits=from_logits)
    return CategoricalCrossentropy(name=str(name), from_logits=from_logits)


def serialize(metric: Metric | None) -> dict | None:
    """A Keras-format config dict for a metric.

    Args:
        metric: a Metric (or None).

    Returns:
        `{"module": "keras.metrics", "class_name": ..., "config": {...},
        "registered_name": None}`, or None for None.

    Raises:
        ValueError: for something that is not a Metric.
    """
    if metric is None:
        return None
    if isinstance(metric, Metric):
        return _keras_class_record(metric, "keras.metrics", _ALL_CLASSES)
    raise ValueError(
        f"Cannot serialize metric {metric!r}: it is not a Metric. Wrap a function with "
        "MeanMetricWrapper(fn, name=...) first.")


def deserialize(config: dict | str, custom_objects: dict | None = None) -> Metric:
    """Rebuild a metric from `serialize`'s output (or a name).

    Args:
        config: a config dict or a name.
        custom_objects: extra class_name -> class entries to look in first.

    Returns:
        The Metric.

    Raises:
        ValueError: for an unknown class name.
    """
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name") if isinstance(config, dict) else None
    cls = (custom_objects or {}).get(name) or _ALL_CLASSES.get(name)
    if cls is None or cls is Metric:
        raise ValueError(
            f"Unknown metric class {name!r} in config {config!r}. Valid names: "
            f"{sorted(set(_ALL_CLASSES) - {'Metric'})}.")
    return cls.from_config(dict(config.get("config") or {}))


