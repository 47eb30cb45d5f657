"""Probabilistic losses: cross-entropies (binary, categorical, sparse, focal, generalized),
KL divergence and Poisson."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from trine import ops
from trine.config import epsilon
from trine.losses.base import (EPSILON, Loss, LossFunctionWrapper, _BuiltinLoss, _apply_fn,
                               _float_pred, as_array, builtin_function)


@builtin_function
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
    y_true = as_array(y_true, y_pred.dtype)
    y_true = jnp.clip(y_true, epsilon(), 1)
    y_pred = jnp.clip(y_pred, epsilon(), 1)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


@builtin_function
def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`.

    Args:
        y_true: targets (counts).
        y_pred: predicted rates, same shape.

    Returns:
        Per-sample losses (last axis reduced).
    """
    y_pred = _float_pred(y_pred)
    y_true = as_array(y_true, y_pred.dtype)
    eps = jnp.asarray(epsilon(), y_pred.dtype)
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + eps), axis=-1)



@builtin_function
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
    y_pred = _float_pred(y_pred)
    y_true = as_array(y_true).astype(y_pred.dtype)
    if label_smoothing and y_true.ndim:  # the op rejects a bad axis, unequal shapes, scalars
        n = jnp.asarray(y_true.shape[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis):
    """Sparse categorical crossentropy and the mask of valid entries (None without ignore_class)."""
    y_pred = _float_pred(y_pred)
    y_true = as_array(y_true)
    valid = None
    if ignore_class is not None:
        # the op checks axis and label shape (a shape-only trace); valid labels reshape to
        # y_pred.shape[:-1], as the op's squeeze would give
        jax.eval_shape(functools.partial(ops.sparse_categorical_crossentropy, axis=axis),
                       y_true, y_pred)
        y_true = jnp.reshape(y_true, y_pred.shape[:-1])
        valid = y_true != jnp.asarray(ignore_class, y_true.dtype)
        y_true = jnp.where(valid, y_true, jnp.zeros((), y_true.dtype))
        # the row is zeroed below, so any value works; ones keep the intermediates finite
        # (no 0/0 on the probability path)
        y_pred = jnp.where(jnp.expand_dims(valid, axis), y_pred, jnp.ones((), y_pred.dtype))
    res = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        res = jnp.where(valid, res, jnp.zeros((), res.dtype))
    return res, valid


@builtin_function
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


def _sparse_ce_values_and_mask(y_true, y_pred, fn_kwargs: dict):
    """What wrappers call: the losses and the mask of entries not equal to `ignore_class`."""
    kw = {"from_logits": False, "ignore_class": None, "axis": -1, **fn_kwargs}
    return _sparse_ce(y_true, y_pred, kw["from_logits"], kw["ignore_class"], kw["axis"])


# capabilities read by wrappers and the trainer instead of the function's name
sparse_categorical_crossentropy.sparse_labels = True
sparse_categorical_crossentropy.values_and_mask = _sparse_ce_values_and_mask


def _binary_targets(y_true, y_pred, label_smoothing, who: str):
    """Float predictions and same-shape targets, smoothed towards 0.5 by `label_smoothing`."""
    y_pred = _float_pred(y_pred)
    y_true = as_array(y_true).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{who} expected y_true and y_pred of the same shape, received "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}. "
            "Reshape the labels to match (e.g. y[:, None] for one output unit).")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return y_true, y_pred


@builtin_function
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
    y_true, y_pred = _binary_targets(y_true, y_pred, label_smoothing, "binary_crossentropy")
    return jnp.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)




# the focal losses accept any axis but a bool (as they always have), unlike the crossentropy ops
def _reject_bool_axis(axis, who: str) -> None:
    if isinstance(axis, bool):
        raise ValueError(f"{who}: axis must be an int, received axis={axis!r} (a bool). "
                         "Pass e.g. axis=-1.")


@builtin_function
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0,
                              from_logits: bool = False, label_smoothing: float = 0.0,
                              axis: int = -1):
    """Binary focal cross-entropy (Lin et al., 2017), averaged over `axis`.

    The binary cross-entropy is scaled by `(1 - p_t) ** gamma`, where `p_t` is the predicted
    probability of the true class, so well-classified examples weigh less; with
    `apply_class_balancing`, also by `alpha` for positives and `1 - alpha` for negatives.

    Args:
        y_true: targets in [0, 1], same shape as `y_pred`.
        y_pred: probabilities, or logits when `from_logits=True`.
        apply_class_balancing: weigh the classes by `alpha`. Default False.
        alpha: the positive class's weight when balancing. Default 0.25.
        gamma: the focusing exponent. Default 2.0.
        from_logits: whether `y_pred` are logits. Default False.
        label_smoothing: in [0, 1]; targets become `y * (1 - s) + 0.5 * s`.
        axis: the axis averaged over. Default -1.

    Returns:
        Per-sample losses with `axis` reduced.

    Raises:
        ValueError: if the shapes differ.

    Example:
        >>> binary_focal_crossentropy(jnp.array([[0.0, 1.0]]), jnp.array([[0.2, 0.7]]))
    """
    y_true, y_pred = _binary_targets(y_true, y_pred, label_smoothing,
                                     "binary_focal_crossentropy")
    if from_logits:
        y_pred = jax.nn.sigmoid(y_pred)
    p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
    bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = jnp.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return jnp.mean(focal, axis=axis)


@builtin_function
def categorical_focal_crossentropy(y_true, y_pred, alpha: float = 0.25, gamma: float = 2.0,
                                   from_logits: bool = False, label_smoothing: float = 0.0,
                                   axis: int = -1):
    """Categorical focal cross-entropy for one-hot targets, summed over the class axis.

    Each class's cross-entropy term is scaled by `alpha * (1 - p) ** gamma`.

    Args:
        y_true: one-hot (or soft) targets, same shape as `y_pred`.
        y_pred: probabilities, or logits when `from_logits=True`.
        alpha: the weighting factor. Default 0.25.
        gamma: the focusing exponent. Default 2.0.
        from_logits: whether `y_pred` are logits. Default False.
        label_smoothing: in [0, 1]; targets move towards `1 / num_classes`.
        axis: the class axis. Default -1.

    Returns:
        Per-sample losses with `axis` reduced.

    Raises:
        ValueError: if `axis` is a bool or the shapes differ.

    Example:
        >>> categorical_focal_crossentropy(jnp.array([[0.0, 1.0]]), jnp.array([[0.3, 0.7]]))
    """
    _reject_bool_axis(axis, "categorical_focal_crossentropy")
    y_pred = _float_pred(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "categorical_focal_crossentropy expected one-hot y_true of the same shape as "
            f"y_pred, received y_true.shape={tuple(y_true.shape)} and "
            f"y_pred.shape={tuple(y_pred.shape)}. One-hot encode integer labels first.")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = jax.nn.softmax(y_pred, axis=axis)
    out = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    out = jnp.clip(out, EPSILON, 1.0 - EPSILON)
    focal = alpha * jnp.power(1.0 - out, gamma) * (-y_true * jnp.log(out))
    return jnp.sum(focal, axis=axis)


@builtin_function
def categorical_generalized_cross_entropy(y_true, y_pred, q: float):
    """Generalized cross-entropy (Zhang & Sabuncu, 2018), robust to noisy labels.

    `(1 - p ** q) / q` with `p` the predicted probability of the integer label; `q -> 0`
    gives the cross-entropy, `q = 1` the mean absolute error.

    Args:
        y_true: integer labels, shape `y_pred.shape[:-1]`.
        y_pred: probabilities `(..., num_classes)`.
        q: in (0, 1].

    Returns:
        Per-sample losses, shape `y_pred.shape[:-1]`.

    Example:
        >>> categorical_generalized_cross_entropy(jnp.array([1]), jnp.array([[0.3, 0.7]]), 0.5)
    """
    y_pred = _float_pred(y_pred)
    one_hot = jax.nn.one_hot(jnp.asarray(y_true).astype(jnp.int32), y_pred.shape[-1],
                             dtype=y_pred.dtype)
    p = jnp.sum(y_pred * one_hot, axis=-1)
    return (1 - jnp.power(p, q)) / q


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
    sparse_labels = True

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


class BinaryFocalCrossentropy(_BuiltinLoss):
    """Binary focal cross-entropy (see `binary_focal_crossentropy`).

    Args:
        apply_class_balancing: weigh the classes by `alpha`. Default False.
        alpha: Default 0.25.
        gamma: Default 2.0.
        from_logits: Default False.
        label_smoothing: Default 0.0.
        axis: Default -1.
        reduction: see `trine.losses.Loss`.
        name: default "binary_focal_crossentropy".
        dtype: see `trine.losses.Loss`.

    Example:
        >>> BinaryFocalCrossentropy(gamma=3.0)(jnp.array([[1.0]]), jnp.array([[0.6]]))
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing", "axis", "apply_class_balancing",
                    "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalFocalCrossentropy(_BuiltinLoss):
    """Categorical focal cross-entropy (see `categorical_focal_crossentropy`).

    Args:
        alpha: Default 0.25.
        gamma: Default 2.0.
        from_logits: Default False.
        label_smoothing: Default 0.0.
        axis: Default -1.
        reduction: see `trine.losses.Loss`.
        name: default "categorical_focal_crossentropy".
        dtype: see `trine.losses.Loss`.
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        _reject_bool_axis(axis, "CategoricalFocalCrossentropy")
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalGeneralizedCrossEntropy(_BuiltinLoss):
    """Generalized cross-entropy for integer labels (see
    `categorical_generalized_cross_entropy`).

    Args:
        q: in (0, 1). Default 0.5.
        reduction: see `trine.losses.Loss`.
        name: default "categorical_generalized_cross_entropy".
        dtype: see `trine.losses.Loss`.

    Raises:
        ValueError: if q is not in (0, 1).
    """

    _CONFIG_KEYS = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise ValueError(
                f"CategoricalGeneralizedCrossEntropy: q must be in the open interval (0, 1), "
                f"received q={q!r}. Use e.g. q=0.5 (q near 0 approaches the cross-entropy).")
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction,
                         dtype=dtype, q=q)


