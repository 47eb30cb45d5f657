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

import re
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.variable import Variable

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
]

EPSILON = 1e-7  # Keras's backend.epsilon()


def _eps() -> float:
    """The fuzz factor, read at call time so `trine.config.set_epsilon` takes effect."""
    from trine.config import epsilon
    return epsilon()

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ------------------------------------------------------------------------ helpers
def _as_array(x, dtype=None):
    if isinstance(x, Variable):
        x = x.value
    return jnp.asarray(x, dtype=dtype)


def _float_pred(y_pred):
    y_pred = _as_array(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    return y_pred


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Make two arrays whose ranks differ by one trailing size-1 axis the same rank.

    As Keras: when one has an extra last axis of size 1, it is squeezed, except that a
    rank-1 partner is expanded instead (when `expand_rank_1`).

    Args:
        x1, x2: arrays.
        expand_rank_1: expand a rank-1 partner rather than squeeze the other.

    Returns:
        The pair `(x1, x2)`, possibly reshaped.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = jnp.expand_dims(x2, -1)
        else:
            x1 = jnp.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = jnp.expand_dims(x1, -1)
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def _divide_no_nan(a, b):
    safe = jnp.where(b == 0, jnp.ones_like(b), b)
    return jnp.where(b == 0, jnp.zeros_like(a), a / safe)


def _standardize_reduction(reduction, who: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{who} received reduction={reduction!r}; expected one of {list(_REDUCTIONS)}. "
            "'sum_over_batch_size' (the default) averages over all loss elements.")
    return reduction


def _apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a boolean mask into the sample weights, as Keras does."""
    if mask is None:
        return sample_weight
    mask = jnp.asarray(mask)
    if reduction in ("mean", "sum_over_batch_size"):
        # valid entries weigh total/valid so the average runs over valid entries only
        total = jnp.asarray(mask.size, dtype)
        valid = jnp.sum(mask.astype(dtype))
        float_mask = jnp.where(mask.astype(bool), _divide_no_nan(total, valid),
                               jnp.zeros((), dtype))
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = jnp.asarray(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def _reduce_values(values, sample_weight, reduction):
    if reduction is None or reduction == "none" or values.shape in ((), (0,)):
        return values
    total = jnp.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = jnp.sum(sample_weight).astype(total.dtype)
    else:
        divisor = jnp.asarray(values.size, total.dtype)
    return _divide_no_nan(total, divisor)


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction: str | None = "sum_over_batch_size", dtype=None):
    """Weight per-sample loss values and reduce them (Keras 3's rule).

    Args:
        values: the per-sample losses.
        sample_weight: weights broadcastable to `values` (after the rank fix-up), or None.
        mask: a boolean mask of valid entries, or None.
        reduction: "sum_over_batch_size" / "mean" (sum of weighted values divided by the
            number of elements), "sum", "mean_with_sample_weight" (divided by the sum of the
            weights), or "none" / None (the weighted values).
        dtype: the computation dtype (default: that of `values`).

    Returns:
        The reduced loss.
    """
    reduction = _standardize_reduction(reduction, "reduce_weighted_values")
    values = jnp.asarray(values, dtype)
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = _as_array(sample_weight, dtype)
    sample_weight = _apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        sample_weight = sample_weight.astype(dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    return _reduce_values(values, sample_weight, reduction)


def _snake(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _get_mask(x):
    try:
        from trine.core.context import get_mask
    except ImportError:  # pragma: no cover - core always present
        return None
    return get_mask(x)


# ------------------------------------------------------------------------ functions
def mean_squared_error(y_true, y_pred):
    """`mean((y_true - y_pred)**2, axis=-1)`.

    Args:
        y_true: targets, shape `(batch, d0, ..., dN)`.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses, shape `(batch, d0, ..., dN-1)`.
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)), axis=-1)`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    eps = jnp.asarray(_eps(), y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), eps))
    return 100.0 * jnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    eps = jnp.asarray(_eps(), y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    a = jnp.log(jnp.maximum(y_pred, eps) + 1.0)
    b = jnp.log(jnp.maximum(y_true, eps) + 1.0)
    return jnp.mean(jnp.square(a - b), axis=-1)


def _l2_normalize(x, axis):
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv, 1.0 / _eps())


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
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return -jnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


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
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    delta = jnp.asarray(delta, y_pred.dtype)
    err = y_pred - y_true
    abs_err = jnp.abs(err)
    half = jnp.asarray(0.5, y_pred.dtype)
    per = jnp.where(abs_err <= delta, half * jnp.square(err),
                    delta * abs_err - half * jnp.square(delta))
    return jnp.mean(per, axis=-1)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed without overflow.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    log2 = jnp.asarray(np.log(2.0), y_pred.dtype)
    e = y_pred - y_true
    return jnp.mean(e + jax.nn.softplus(-2.0 * e) - log2, axis=-1)


def kl_divergence(y_true, y_pred):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred), axis=-1)`.

    Both are clipped to `[1e-7, 1]` first.

    Args:
        y_true: target distributions.
        y_pred: predicted distributions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    y_true = jnp.clip(y_true, _eps(), 1)
    y_pred = jnp.clip(y_pred, _eps(), 1)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`.

    Args:
        y_true: targets (counts).
        y_pred: predicted rates, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    eps = jnp.asarray(_eps(), y_pred.dtype)
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + eps), axis=-1)


def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}; other labels are used as given (jit-safe)."""
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """`mean(max(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels are mapped to -1/1.

    Args:
        y_true: labels in {-1, 1} (or {0, 1}).
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _hinge_labels(_as_array(y_true, y_pred.dtype))
    return jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """`mean(max(1 - y_true * y_pred, 0)**2, axis=-1)`; 0/1 labels are mapped to -1/1.

    Args:
        y_true: labels in {-1, 1} (or {0, 1}).
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _hinge_labels(_as_array(y_true, y_pred.dtype))
    return jnp.mean(jnp.square(jnp.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """`max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` per sample.

    Args:
        y_true: one-hot targets.
        y_pred: predictions, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, jnp.zeros((), y_pred.dtype))


def _check_axis(axis, who):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{who} expected axis to be an integer, received axis={axis!r}.")


def _clipped_log_probs(y_pred, axis):
    """Keras's probability path: renormalise along `axis`, clip to [eps, 1-eps], log."""
    p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    p = jnp.clip(p, _eps(), 1.0 - _eps())
    return jnp.log(p)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1):
    """Cross-entropy between one-hot (or soft) targets and predicted distributions.

    With `from_logits=False`, `y_pred` is renormalised to sum to 1 along `axis` and
    clipped to `[1e-7, 1 - 1e-7]` before the log, as Keras does.

    Args:
        y_true: targets, same shape as `y_pred`.
        y_pred: probabilities, or logits when `from_logits=True`.
        from_logits: whether `y_pred` are logits.
        label_smoothing: in [0, 1]; targets become `y * (1 - s) + s / num_classes`.
        axis: the class axis (default -1).

    Returns:
        Per-sample losses with `axis` reduced.

    Raises:
        ValueError: if the shapes differ or `axis` is not an integer.
    """
    _check_axis(axis, "categorical_crossentropy")
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_crossentropy expected y_true and y_pred of the same shape, received "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}. For "
            "integer class labels use sparse_categorical_crossentropy instead.")
    if y_pred.ndim < 1:
        raise ValueError("categorical_crossentropy expected inputs of rank >= 1, received scalars.")
    if label_smoothing:
        n = jnp.asarray(y_true.shape[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    if from_logits:
        import optax  # imported on first use: keeps `import trine` fast
        return optax.softmax_cross_entropy(y_pred, y_true, axis=axis)
    return -jnp.sum(y_true * _clipped_log_probs(y_pred, axis), axis=axis)


def _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis):
    """Sparse categorical crossentropy and the mask of valid entries (None without ignore_class)."""
    _check_axis(axis, "sparse_categorical_crossentropy")
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true)
    if y_pred.ndim < 1:
        raise ValueError(
            "sparse_categorical_crossentropy expected y_pred of rank >= 1 (the class axis "
            f"last), received shape {tuple(y_pred.shape)}.")
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis=axis)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, axis=-1)
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(
            "sparse_categorical_crossentropy expected y_true of shape y_pred.shape[:-1] "
            f"(one integer label per sample), received y_true.shape={tuple(y_true.shape)} and "
            f"y_pred.shape={tuple(y_pred.shape)}. For one-hot targets use "
            "categorical_crossentropy instead.")
    valid = None
    if ignore_class is not None:
        valid = y_true != jnp.asarray(ignore_class, y_true.dtype)
        y_true = jnp.where(valid, y_true, jnp.zeros((), y_true.dtype))
        # the row is zeroed below, so any value works; ones keep the intermediates finite
        # (no 0/0 on the probability path)
        y_pred = jnp.where(jnp.expand_dims(valid, axis), y_pred, jnp.ones((), y_pred.dtype))
    labels = y_true.astype(jnp.int32)
    if from_logits:
        log_probs = jax.nn.log_softmax(y_pred, axis=axis)
    else:
        log_probs = _clipped_log_probs(y_pred, axis)
    one_hot = jax.nn.one_hot(labels, y_pred.shape[axis], dtype=y_pred.dtype, axis=axis)
    res = -jnp.sum(one_hot * log_probs, axis=axis)
    if valid is not None:
        res = jnp.where(valid, res, jnp.zeros((), res.dtype))
    return res, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1):
    """Cross-entropy between integer labels and predicted distributions.

    Args:
        y_true: integer labels of shape `y_pred.shape[:-1]` (a trailing axis of size 1 is
            squeezed); float labels are truncated to integers.
        y_pred: probabilities, or logits when `from_logits=True`.
        from_logits: whether `y_pred` are logits.
        ignore_class: a label value whose entries get loss 0 (and are left out of the
            average by the `SparseCategoricalCrossentropy` class), e.g. padding.
        axis: the class axis (default -1).

    Returns:
        Per-sample losses, shape `y_pred.shape[:-1]`.

    Raises:
        ValueError: if the label shape does not match `y_pred.shape[:-1]`.
    """
    return _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis)[0]


def binary_crossentropy(y_true, y_pred, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1):
    """Binary cross-entropy, averaged over `axis`.

    With `from_logits=False`, `y_pred` is clipped to `[1e-7, 1 - 1e-7]` before the logs.

    Args:
        y_true: targets in [0, 1], same shape as `y_pred`.
        y_pred: probabilities, or logits when `from_logits=True`.
        from_logits: whether `y_pred` are logits.
        label_smoothing: in [0, 1]; targets become `y * (1 - s) + 0.5 * s`.
        axis: the axis averaged over (default -1).

    Returns:
        Per-sample losses with `axis` reduced.

    Raises:
        ValueError: if the shapes differ.
    """
    y_pred = _float_pred(y_pred)
    y_true = _as_array(y_true).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"binary_crossentropy expected y_true and y_pred of the same shape, received "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}. "
            "Reshape the labels to match (e.g. y[:, None] for one output unit).")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        import optax
        per = optax.sigmoid_binary_cross_entropy(y_pred, y_true)
    else:
        p = jnp.clip(y_pred, _eps(), 1.0 - _eps())
        per = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(per, axis=axis)


# Keras's short names and legacy aliases
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh


# ------------------------------------------------------------------------ classes
class Loss:
    """Base class of losses: subclasses implement `call(y_true, y_pred)` (per-sample values).

    Calling the loss casts both inputs to its dtype, computes `call`, weights the values
    by `sample_weight` and reduces them.

    Args:
        name: the loss's name (default: the class name in snake_case).
        reduction: "sum_over_batch_size" (default; the weighted sum divided by the number of
            loss elements), "sum", "mean" (same as "sum_over_batch_size" in Keras 3),
            "mean_with_sample_weight" (divided by the sum of the weights), or "none" / None.
        dtype: the computation dtype (default float32).

    Raises:
        ValueError: for an unknown reduction.

    Example:
        >>> class Scaled(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return 2.0 * jnp.mean(jnp.square(y_true - y_pred), axis=-1)
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = _standardize_reduction(reduction, f"{type(self).__name__}")
        self._dtype = jnp.dtype("float32" if dtype is None else dtype).name

    @property
    def dtype(self) -> str:
        """The computation dtype."""
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss.

        Args:
            y_true: targets (cast to the loss's dtype).
            y_pred: predictions (cast to the loss's dtype).
            sample_weight: per-sample weights broadcastable to the per-sample losses, or None.

        Returns:
            A scalar (or the weighted per-sample losses for reduction "none").
        """
        in_mask = _get_mask(y_pred)
        y_pred = jax.tree_util.tree_map(lambda x: _as_array(x, self._dtype), y_pred)
        y_true = jax.tree_util.tree_map(lambda x: _as_array(x, self._dtype), y_true)
        values, out_mask = self._call_with_mask(y_true, y_pred)
        if in_mask is not None and out_mask is not None:
            mask = jnp.asarray(in_mask, bool) & jnp.asarray(out_mask, bool)
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(values, sample_weight=sample_weight, mask=mask,
                                      reduction=self.reduction, dtype=self._dtype)

    def _call_with_mask(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        return values, _get_mask(values)

    def call(self, y_true, y_pred):
        """Per-sample loss values; subclasses implement it.

        Args:
            y_true: targets.
            y_pred: predictions.

        Returns:
            The per-sample losses.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(self, y_true, y_pred) returning the "
            "per-sample losses.")

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        """Rebuild the loss from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _apply_fn(fn, fn_kwargs, y_true, y_pred):
    """Per-sample values of `fn` after Keras's rank fix-up, and their mask (or None)."""
    if isinstance(y_true, jax.Array) and isinstance(y_pred, jax.Array):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if fn is sparse_categorical_crossentropy:
        kw = {"from_logits": False, "ignore_class": None, "axis": -1, **fn_kwargs}
        return _sparse_ce(y_true, y_pred, kw["from_logits"], kw["ignore_class"], kw["axis"])
    values = fn(y_true, y_pred, **fn_kwargs)
    return values, _get_mask(values)


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: the per-sample loss function.
        reduction: see `Loss`.
        name: the loss's name (default: `fn.__name__`).
        dtype: see `Loss`.
        **kwargs: extra keyword arguments passed to `fn`.

    Example:
        >>> loss = LossFunctionWrapper(huber, delta=0.5)
    """

    def __init__(self, fn: Callable, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(
                f"LossFunctionWrapper expected fn to be a callable (y_true, y_pred) -> "
                f"per-sample losses, received {fn!r}.")
        super().__init__(name=name or _snake(getattr(fn, "__name__", type(fn).__name__)),
                         reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = dict(kwargs)

    def __getattr__(self, item):
        # expose fn's keyword arguments (e.g. `ignore_class`) as attributes
        kwargs = self.__dict__.get("_fn_kwargs")
        if kwargs is not None and item in kwargs:
            return kwargs[item]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {item!r}")

    def _call_with_mask(self, y_true, y_pred):
        return _apply_fn(self.fn, self._fn_kwargs, y_true, y_pred)

    def call(self, y_true, y_pred):
        return self._call_with_mask(y_true, y_pred)[0]

    def get_config(self):
        config = super().get_config()
        config["fn"] = _fn_name(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn", None)
        if isinstance(fn, str):
            resolved = _FUNCTIONS.get(fn)
            if resolved is None:
                raise ValueError(
                    f"LossFunctionWrapper config names an unknown function {fn!r}. Valid "
                    f"names: {sorted(_FUNCTIONS)}.")
            fn = resolved
        return cls(fn, **config)

    def __repr__(self):
        fn = getattr(self.fn, "__name__", self.fn)
        return f"<LossFunctionWrapper({fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A built-in loss class: config is the constructor arguments, without `fn`."""

    _CONFIG_KEYS: tuple = ()

    def get_config(self):
        config = Loss.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in self._CONFIG_KEYS})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


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


class KLDivergence(_BuiltinLoss):
    """Kullback-Leibler divergence (see `kl_divergence`).

    Args:
        reduction: see `Loss`.
        name: default "kl_divergence".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(_BuiltinLoss):
    """Poisson loss (see `poisson`).

    Args:
        reduction: see `Loss`.
        name: default "poisson".
        dtype: see `Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """Binary cross-entropy (see `binary_crossentropy`).

    Args:
        from_logits: whether predictions are logits (default False: probabilities).
        label_smoothing: in [0, 1] (default 0).
        axis: the axis averaged over (default -1).
        reduction: see `Loss`.
        name: default "binary_crossentropy".
        dtype: see `Loss`.

    Example:
        >>> BinaryCrossentropy(from_logits=True)(jnp.array([[1.0]]), jnp.array([[3.0]]))
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_BuiltinLoss):
    """Categorical cross-entropy for one-hot targets (see `categorical_crossentropy`).

    Args:
        from_logits: whether predictions are logits (default False: probabilities).
        label_smoothing: in [0, 1] (default 0).
        axis: the class axis (default -1).
        reduction: see `Loss`.
        name: default "categorical_crossentropy".
        dtype: see `Loss`.
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Categorical cross-entropy for integer labels (see `sparse_categorical_crossentropy`).

    Args:
        from_logits: whether predictions are logits (default False: probabilities).
        ignore_class: a label whose entries are left out of the loss and of the average.
        reduction: see `Loss`.
        axis: the class axis (default -1).
        name: default "sparse_categorical_crossentropy".
        dtype: see `Loss`.

    Example:
        >>> SparseCategoricalCrossentropy(from_logits=True)(jnp.array([1]), jnp.array([[0.0, 2.0]]))
    """

    _CONFIG_KEYS = ("from_logits", "ignore_class", "axis")  # Keras 3 leaves out axis

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)


class _ShapeResolvedCrossentropy(LossFunctionWrapper):
    """`loss="crossentropy"` / `"ce"`: the crossentropy the shapes call for, as Keras's compile.

    A last `y_pred` axis of size 1 means binary; targets of lower rank than `y_pred`, or
    with a last axis of size 1 against several classes, mean sparse labels; otherwise
    one-hot targets. Shapes are static, so the choice is made while tracing.
    """

    def __init__(self, name: str = "crossentropy", reduction="sum_over_batch_size", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype)

    def _call_with_mask(self, y_true, y_pred):
        t_last, p_last = y_true.shape[-1] if y_true.ndim else None, y_pred.shape[-1]
        if p_last == 1:
            fn = binary_crossentropy
        elif y_true.ndim < y_pred.ndim or (t_last == 1 and p_last > 1):
            fn = sparse_categorical_crossentropy
        else:
            fn = categorical_crossentropy
        return _apply_fn(fn, {}, y_true, y_pred)

    def get_config(self):
        return Loss.get_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ------------------------------------------------------------------------ lookup
_FUNCTIONS: dict[str, Callable] = {
    fn.__name__: fn for fn in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, kl_divergence,
        poisson, hinge, squared_hinge, categorical_hinge, categorical_crossentropy,
        sparse_categorical_crossentropy, binary_crossentropy)
}
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
        BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy)
}


def _valid_names() -> list[str]:
    return sorted(set(_FUNCTIONS) | set(_FUNCTION_ALIASES) | {"crossentropy", "ce"}
                  | (set(_CLASSES) - {"Loss", "LossFunctionWrapper"}))


def _fn_name(fn) -> str | None:
    for name, f in _FUNCTIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", None)


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
        fn = _FUNCTIONS.get(identifier) or _FUNCTION_ALIASES.get(identifier)
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
        return LossFunctionWrapper(identifier, name=_snake(getattr(
            identifier, "__name__", type(identifier).__name__)))
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
        builtin = type(loss).__name__ in _CLASSES and _CLASSES[type(loss).__name__] is type(loss)
        return {"module": "keras.losses" if builtin else type(loss).__module__,
                "class_name": type(loss).__name__, "config": loss.get_config(),
                "registered_name": None if builtin else type(loss).__name__}
    name = _fn_name(loss)
    if name in _FUNCTIONS:
        return name
    if callable(loss) and isinstance(name, str) and name != "<lambda>":
        # a named custom function: saved by name, loadable with custom_objects={name: fn}
        return {"module": getattr(loss, "__module__", None), "class_name": "function",
                "config": name, "registered_name": name}
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
        fn = (custom_objects or {}).get(config.get("config"))
        if fn is None:
            raise ValueError(
                f"The config names the custom loss function {config.get('config')!r}. Pass it "
                "when loading: custom_objects={name: function}.")
        return get(fn)
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        fn = _FUNCTIONS.get(name) or _FUNCTION_ALIASES.get(name)
        if fn is not None:
            return LossFunctionWrapper(fn, name=name)
        raise ValueError(
            f"Unknown loss class {name!r} in config {config!r}. Valid names: {_valid_names()}.")
    return cls.from_config(dict(config.get("config") or {}))


# ------------------------------------------------------------------------ Keras's other losses
# In their own module (one concept a file); registered here so get/deserialize resolve them.
from trine.losses_extra import (CTC, BinaryFocalCrossentropy,  # noqa: E402
                                CategoricalFocalCrossentropy,
                                CategoricalGeneralizedCrossEntropy, Circle, Dice, Tversky,
                                binary_focal_crossentropy, categorical_focal_crossentropy,
                                categorical_generalized_cross_entropy, circle, ctc, dice,
                                tversky)
from trine.losses_extra import _NEW_FUNCTIONS, _NEW_LOSSES  # noqa: E402

_FUNCTIONS.update({fn.__name__: fn for fn in _NEW_FUNCTIONS})
_CLASSES.update({cls.__name__: cls for cls in _NEW_LOSSES})
__all__ += [c.__name__ for c in _NEW_LOSSES] + [f.__name__ for f in _NEW_FUNCTIONS]
