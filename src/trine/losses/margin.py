"""Hinge losses for maximum-margin classifiers: hinge, squared hinge, categorical hinge."""
from __future__ import annotations

import jax.numpy as jnp

from trine.losses.base import _BuiltinLoss, as_array, _float_pred, builtin_function


def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}; other labels are used as given (jit-safe)."""
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


@builtin_function
def hinge(y_true, y_pred):
    """`mean(max(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels are mapped to -1/1.

    Args:
        y_true: labels in {-1, 1} (or {0, 1}).
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _hinge_labels(as_array(y_true, y_pred.dtype))
    return jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


@builtin_function
def squared_hinge(y_true, y_pred):
    """`mean(max(1 - y_true * y_pred, 0)**2, axis=-1)`; 0/1 labels are mapped to -1/1.

    Args:
        y_true: labels in {-1, 1} (or {0, 1}).
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _hinge_labels(as_array(y_true, y_pred.dtype))
    return jnp.mean(jnp.square(jnp.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


@builtin_function
def categorical_hinge(y_true, y_pred):
    """`max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` per sample.

    Args:
        y_true: one-hot targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = as_array(y_true, y_pred.dtype)
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, jnp.zeros((), y_pred.dtype))



class Hinge(_BuiltinLoss):
    """Hinge loss (see `hinge`).

    Args:
        reduction: see `Loss`.
        name: default "hinge".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """Squared hinge loss (see `squared_hinge`).

    Args:
        reduction: see `Loss`.
        name: default "squared_hinge".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """Categorical hinge loss (see `categorical_hinge`).

    Args:
        reduction: see `Loss`.
        name: default "categorical_hinge".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)

