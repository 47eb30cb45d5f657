"""Overlap losses for segmentation: Dice and Tversky."""
from __future__ import annotations

import jax.numpy as jnp

from trine.losses.base import EPSILON, _BuiltinLoss, _float_pred, builtin_function


def _overlap(y_true, y_pred):
    y_pred = _float_pred(y_pred)
    return jnp.asarray(y_true).astype(y_pred.dtype), y_pred


@builtin_function
def dice(y_true, y_pred, axis=None):
    """Dice loss `1 - 2 |y_true * y_pred| / (|y_true| + |y_pred| + eps)`.

    Args:
        y_true: targets.
        y_pred: predictions.
        axis: the axes summed over (None: all, one value for the whole batch).

    Returns:
        The Dice loss, with `axis` reduced.

    Example:
        >>> dice(jnp.array([[1.0, 0.0]]), jnp.array([[0.8, 0.1]]))
    """
    y_true, y_pred = _overlap(y_true, y_pred)
    inter = jnp.sum(y_true * y_pred, axis=axis)
    denom = jnp.sum(y_true, axis=axis) + jnp.sum(y_pred, axis=axis) + EPSILON
    return 1 - (2.0 * inter) / denom


@builtin_function
def tversky(y_true, y_pred, alpha: float = 0.5, beta: float = 0.5, axis=None):
    """Tversky loss `1 - TP / (TP + alpha FP + beta FN + eps)` (Dice when both are 0.5).

    Args:
        y_true: targets.
        y_pred: predictions.
        alpha: weight of false positives. Default 0.5.
        beta: weight of false negatives. Default 0.5.
        axis: the axes summed over (None: all).

    Returns:
        The Tversky loss, with `axis` reduced.

    Example:
        >>> tversky(jnp.array([[1.0, 0.0]]), jnp.array([[0.8, 0.1]]), alpha=0.7, beta=0.3)
    """
    y_true, y_pred = _overlap(y_true, y_pred)
    inter = jnp.sum(y_true * y_pred, axis=axis)
    # Keras names the prediction-side miss "fp" as 1 - y_pred where y_true is set
    fp = jnp.sum((1 - y_pred) * y_true, axis=axis)
    fn = jnp.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - inter / (inter + fp * alpha + fn * beta + EPSILON)


class Dice(_BuiltinLoss):
    """Dice loss (see `dice`).

    Args:
        reduction: see `trine.losses.Loss`.
        name: default "dice".
        axis: the axes summed over (None: all). Default None.
        dtype: see `trine.losses.Loss`.
    """

    _CONFIG_KEYS = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)


class Tversky(_BuiltinLoss):
    """Tversky loss (see `tversky`).

    Args:
        alpha: weight of false positives. Default 0.5.
        beta: weight of false negatives. Default 0.5.
        reduction: see `trine.losses.Loss`.
        name: default "tversky".
        axis: the axes summed over (None: all). Default None.
        dtype: see `trine.losses.Loss`.
    """

    _CONFIG_KEYS = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)


