"""Regression losses: squared, absolute, percentage, logarithmic, cosine, Huber, log-cosh."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.config import epsilon
from trine.losses.base import _BuiltinLoss, _float_pair_same_rank, builtin_function


@builtin_function
def mean_squared_error(y_true, y_pred):
    """`mean((y_true - y_pred)**2, axis=-1)`.

    Args:
        y_true: targets, shape `(batch, d0, ..., dN)`.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses, shape `(batch, d0, ..., dN-1)`.
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


@builtin_function
def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


@builtin_function
def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)), axis=-1)`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    eps = jnp.asarray(epsilon(), y_pred.dtype)
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), eps))
    return 100.0 * jnp.mean(diff, axis=-1)


@builtin_function
def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    eps = jnp.asarray(epsilon(), y_pred.dtype)
    a = jnp.log(jnp.maximum(y_pred, eps) + 1.0)
    b = jnp.log(jnp.maximum(y_true, eps) + 1.0)
    return jnp.mean(jnp.square(a - b), axis=-1)


def _l2_normalize(x, axis):
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv, 1.0 / epsilon())


@builtin_function
def cosine_similarity(y_true, y_pred, axis: int = -1):
    """Negative cosine similarity: `-sum(l2_normalize(y_true) * l2_normalize(y_pred))`.

    Values lie in [-1, 1]; -1 means the vectors point the same way (so minimising it
    aligns them), 0 is orthogonal or a zero vector.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.
        axis: the axis along which the similarity is computed (default -1).

    Returns:
        Per-sample losses with `axis` reduced.
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    return -jnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


@builtin_function
def huber(y_true, y_pred, delta: float = 1.0):
    """Huber loss: quadratic for errors up to `delta`, linear beyond, averaged on the last axis.

    `0.5 * e**2` if `abs(e) <= delta`, else `delta * abs(e) - 0.5 * delta**2`, with
    `e = y_pred - y_true`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.
        delta: where the loss turns linear (default 1.0).

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    delta = jnp.asarray(delta, y_pred.dtype)
    err = y_pred - y_true
    abs_err = jnp.abs(err)
    half = jnp.asarray(0.5, y_pred.dtype)
    per = jnp.where(abs_err <= delta, half * jnp.square(err),
                    delta * abs_err - half * jnp.square(delta))
    return jnp.mean(per, axis=-1)


@builtin_function
def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed without overflow.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_true, y_pred = _float_pair_same_rank(y_true, y_pred)
    log2 = jnp.asarray(np.log(2.0), y_pred.dtype)
    e = y_pred - y_true
    return jnp.mean(e + jax.nn.softplus(-2.0 * e) - log2, axis=-1)


class MeanSquaredError(_BuiltinLoss):
    """Mean of squared errors (see `mean_squared_error`).

    Args:
        reduction: see `Loss`.
        name: default "mean_squared_error".
        dtype: see `Loss`.

    Example:
        >>> MeanSquaredError()(jnp.zeros((2, 3)), jnp.ones((2, 3)))
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors (see `mean_absolute_error`).

    Args:
        reduction: see `Loss`.
        name: default "mean_absolute_error".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """Mean absolute percentage error (see `mean_absolute_percentage_error`).

    Args:
        reduction: see `Loss`.
        name: default "mean_absolute_percentage_error".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction,
                         dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """Mean squared logarithmic error (see `mean_squared_logarithmic_error`).

    Args:
        reduction: see `Loss`.
        name: default "mean_squared_logarithmic_error".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction,
                         dtype=dtype)


class CosineSimilarity(_BuiltinLoss):
    """Negative cosine similarity (see `cosine_similarity`).

    Args:
        axis: the axis along which the similarity is computed (default -1).
        reduction: see `Loss`.
        name: default "cosine_similarity".
        dtype: see `Loss`.
    """

    _CONFIG_KEYS = ("axis",)  # Keras 3 leaves axis out of the config; trine keeps it

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype,
                         axis=axis)


class Huber(_BuiltinLoss):
    """Huber loss (see `huber`).

    Args:
        delta: where the loss turns linear (default 1.0).
        reduction: see `Loss`.
        name: default "huber_loss".
        dtype: see `Loss`.
    """

    _CONFIG_KEYS = ("delta",)  # Keras 3 leaves delta out of the config; trine keeps it

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class LogCosh(_BuiltinLoss):
    """Log-cosh loss (see `log_cosh`).

    Args:
        reduction: see `Loss`.
        name: default "log_cosh".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)

