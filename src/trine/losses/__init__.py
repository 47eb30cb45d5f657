"""Losses (Keras `keras.losses`): per-sample functions and `Loss` classes that reduce them.

The functions (`mean_squared_error`, `sparse_categorical_crossentropy`, ...) return one value
per sample: the batch dimensions of the input, reduced over the last axis. The classes
(`MeanSquaredError`, `SparseCategoricalCrossentropy`, ...) are called as
`loss(y_true, y_pred, sample_weight=None)` and reduce those values to a scalar as Keras 3
does. Everything is `jax.numpy`, pure and jit-safe; numerics follow Keras 3's JAX backend
(probabilities are renormalised and clipped to `[1e-7, 1 - 1e-7]` when `from_logits=False`).

Example:
    >>> from trine import losses
    >>> loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> loss(jnp.array([0, 2]), jnp.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]]))
"""
from __future__ import annotations

from typing import Any, Callable

from trine._util.function_records import custom_function as _custom_function
from trine._util.function_records import named_function_record as _named_function_record
from trine.losses.base import (BUILTIN_FUNCTIONS, EPSILON, Loss, LossFunctionWrapper,
                               reduce_weighted_values, squeeze_or_expand_to_same_rank)
from trine.losses.base import keras_class_record as _keras_class_record
from trine.losses.margin import (CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge,
                                 squared_hinge)
from trine.losses.metric_learning import Circle, circle
from trine.losses.probabilistic import (BinaryCrossentropy, BinaryFocalCrossentropy,
                                        CategoricalCrossentropy, CategoricalFocalCrossentropy,
                                        CategoricalGeneralizedCrossEntropy, KLDivergence,
                                        Poisson, SparseCategoricalCrossentropy,
                                        _ShapeResolvedCrossentropy, binary_crossentropy,
                                        binary_focal_crossentropy, categorical_crossentropy,
                                        categorical_focal_crossentropy,
                                        categorical_generalized_cross_entropy, kl_divergence,
                                        poisson, sparse_categorical_crossentropy)
from trine.losses.regression import (CosineSimilarity, Huber, LogCosh, MeanAbsoluteError,
                                     MeanAbsolutePercentageError, MeanSquaredError,
                                     MeanSquaredLogarithmicError, cosine_similarity, huber,
                                     log_cosh, mean_absolute_error,
                                     mean_absolute_percentage_error, mean_squared_error,
                                     mean_squared_logarithmic_error)
from trine.losses.segmentation import Dice, Tversky, dice, tversky
from trine.losses.sequence import CTC, ctc

__all__ = [
    "Loss", "LossFunctionWrapper", "BinaryCrossentropy", "CategoricalCrossentropy",
    "CategoricalHinge", "CosineSimilarity", "Hinge", "Huber", "KLDivergence", "LogCosh",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge",
    "binary_crossentropy", "categorical_crossentropy", "categorical_hinge",
    "cosine_similarity", "hinge", "huber", "kl_divergence", "log_cosh", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error",
    "poisson", "sparse_categorical_crossentropy", "squared_hinge",
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD", "bce", "BCE",
    "logcosh", "kullback_leibler_divergence", "get", "serialize", "deserialize",
    "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy", "CTC", "Dice", "Tversky", "Circle",
    "binary_focal_crossentropy", "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy", "ctc", "dice", "tversky", "circle",
]

# Keras's short names and legacy aliases
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh


# ------------------------------------------------------------------------ lookup
_FUNCTION_ALIASES: dict[str, Callable] = {
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence, "logcosh": log_cosh,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
}
_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (
        Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError,
        MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, Huber,
        LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
        BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
        BinaryFocalCrossentropy, CategoricalFocalCrossentropy,
        CategoricalGeneralizedCrossEntropy, CTC, Dice, Tversky, Circle)
}


def _valid_names() -> list[str]:
    return sorted(set(BUILTIN_FUNCTIONS) | set(_FUNCTION_ALIASES) | {"crossentropy", "ce"}
                  | (set(_CLASSES) - {"Loss", "LossFunctionWrapper"}))


def get(identifier: Any) -> Loss | None:
    """Resolve a loss identifier to a `Loss` that reduces (as `compile(loss=...)` does).

    A function name or alias ("mse", "sparse_categorical_crossentropy") gives a
    `LossFunctionWrapper` around that function, named with the string given (so the logs
    say "mse"); a class name ("MeanSquaredError") gives an instance with defaults;
    "crossentropy" / "ce" give the binary, sparse or categorical crossentropy that the
    shapes of each batch call for, as Keras's `compile` does. (Keras's
    `losses.get` returns the bare function for a function name; the per-sample functions are
    available here as module attributes, e.g. `trine.losses.mean_squared_error`.)

    Args:
        identifier: None, a name, a config dict `{"class_name": ..., "config": {...}}`, a
            Loss class or instance, or a callable `(y_true, y_pred) -> per-sample losses`
            (wrapped in a LossFunctionWrapper named after it).

    Returns:
        A `Loss`, or None for None.

    Raises:
        ValueError: for an unknown name (the valid names are listed) or an identifier of
            another kind.

    Example:
        >>> get("mse").name
        'mse'
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        fn = BUILTIN_FUNCTIONS.get(identifier) or _FUNCTION_ALIASES.get(identifier)
        if fn is not None:
            return LossFunctionWrapper(fn, name=identifier)
        if identifier.lower() in ("crossentropy", "ce"):
            return _ShapeResolvedCrossentropy(name=identifier)
        cls = _CLASSES.get(identifier)
        if cls is None or cls in (Loss, LossFunctionWrapper):
            raise ValueError(
                f"Unknown loss {identifier!r}. Valid names: {_valid_names()}. Pass one of "
                "these, a Loss instance, or a callable (y_true, y_pred) -> per-sample losses.")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)  # named after the callable
    raise ValueError(
        f"Could not interpret loss {identifier!r} of type {type(identifier).__name__}: "
        f"expected a name (one of {_valid_names()}), a Loss or a callable.")


def serialize(loss: Loss | Callable | None) -> dict | str | None:
    """A Keras-format config for a loss.

    Args:
        loss: a Loss instance or a built-in loss function.

    Returns:
        For a Loss, `{"module": "keras.losses", "class_name": ..., "config": {...},
        "registered_name": None}`; for a built-in function, its name; for another named
        function `{"class_name": "function", "config": its name, ...}` (load it with
        `custom_objects`); None for None.

    Raises:
        ValueError: for an unnamed callable (a lambda).
    """
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return _keras_class_record(loss, "keras.losses", _CLASSES)
    name = getattr(loss, "__name__", None)
    if name in BUILTIN_FUNCTIONS:
        return name
    record = _named_function_record(loss)
    if record is not None:
        return record
    raise ValueError(
        f"Cannot serialize loss {loss!r}: it is neither a Loss nor a named function. "
        "Subclass trine.losses.Loss and implement get_config() to make it serialisable.")


def deserialize(config: dict | str, custom_objects: dict | None = None) -> Loss:
    """Rebuild a loss from `serialize`'s output (or a name).

    Args:
        config: a config dict or a name.
        custom_objects: extra class_name -> class entries to look in first.

    Returns:
        The Loss.

    Raises:
        ValueError: for an unknown class name, or a custom function not in `custom_objects`.
    """
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return get(custom_objects[config])
        return get(config)
    name = config.get("class_name") if isinstance(config, dict) else None
    if name == "function":
        return get(_custom_function(config, custom_objects, "loss"))
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        fn = BUILTIN_FUNCTIONS.get(name) or _FUNCTION_ALIASES.get(name)
        if fn is not None:
            return LossFunctionWrapper(fn, name=name)
        raise ValueError(
            f"Unknown loss class {name!r} in config {config!r}. Valid names: {_valid_names()}.")
    return cls.from_config(dict(config.get("config") or {}))
