"""Accuracy metrics: exact match, binary, categorical, sparse categorical and top-k."""
from __future__ import annotations

import jax.numpy as jnp

from trine.losses.base import as_array, squeeze_or_expand_to_same_rank
from trine.metrics.base import _BuiltinWrapper, builtin_function


@builtin_function
def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred` exactly, else 0.0.

    Args:
        y_true: targets.
        y_pred: predictions (compared as they are, no thresholding).

    Returns:
        Float32 matches, the common shape.
    """
    y_pred = as_array(y_pred)
    y_true = as_array(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(jnp.float32)


@builtin_function
def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """1.0 where `(y_pred > threshold) == y_true`, else 0.0.

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities (or scores).
        threshold: the decision threshold (default 0.5).

    Returns:
        Float32 matches per entry.
    """
    y_pred = as_array(y_pred)
    y_true = as_array(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    pred = (y_pred > threshold).astype(y_true.dtype)
    return (y_true == pred).astype(jnp.float32)


@builtin_function
def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_true) == argmax(y_pred)` on the last axis, else 0.0.

    Args:
        y_true: one-hot targets.
        y_pred: scores or probabilities, same shape.

    Returns:
        Float32 matches, the batch shape.
    """
    y_pred = as_array(y_pred)
    true_idx = jnp.argmax(as_array(y_true), axis=-1).astype(y_pred.dtype)
    pred_idx = jnp.argmax(y_pred, axis=-1).astype(y_pred.dtype)
    return (true_idx == pred_idx).astype(jnp.float32)


@builtin_function
def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals `argmax(y_pred)`, else 0.0.

    Args:
        y_true: integer labels of shape `y_pred.shape[:-1]` (or with a trailing axis of 1).
        y_pred: scores or probabilities.

    Returns:
        Float32 matches, shape of the labels without a trailing axis of size 1.
    """
    y_pred = as_array(y_pred)
    y_true = as_array(y_true, y_pred.dtype)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    pred_idx = jnp.argmax(y_pred, axis=-1).astype(y_true.dtype)
    return (y_true == pred_idx).astype(jnp.float32)


def _in_top_k(targets, predictions, k):
    """Whether each target's score is among the `k` largest (ties count in its favour)."""
    at_label = jnp.take_along_axis(predictions, targets[..., None], axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(predictions > at_label, axis=-1)
    return rank <= k


@builtin_function
def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """1.0 where the one-hot target's class is among the `k` highest scores, else 0.0.

    Args:
        y_true: one-hot targets.
        y_pred: scores, same shape.
        k: how many top classes count (default 5).

    Returns:
        Float32 matches, the batch shape.
    """
    y_pred = as_array(y_pred)
    labels = jnp.argmax(as_array(y_true, y_pred.dtype), axis=-1).astype(jnp.int32)
    return _in_top_k(labels, y_pred, k).astype(jnp.float32)


@builtin_function
def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5,
                                      from_sorted_ids: bool = False):
    """1.0 where the integer label is among the `k` highest scores, else 0.0.

    Args:
        y_true: integer labels of shape `y_pred.shape[:-1]`.
        y_pred: scores; or, with `from_sorted_ids=True`, class ids sorted by score.
        k: how many top classes count (default 5).
        from_sorted_ids: whether `y_pred` holds sorted class ids rather than scores.

    Returns:
        Float32 matches, the shape of the labels.
    """
    y_pred = as_array(y_pred)
    y_true = as_array(y_true, y_pred.dtype if from_sorted_ids else jnp.int32)
    shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    if y_true.ndim > 1:
        y_true = y_true.reshape(-1)
    if from_sorted_ids:
        matches = jnp.any(y_true[:, None] == y_pred[:, :k], axis=1)
    else:
        matches = _in_top_k(y_true, y_pred, k)
    return matches.astype(jnp.float32).reshape(shape)


class Accuracy(_BuiltinWrapper):
    """How often predictions equal the labels exactly (see `accuracy`).

    Args:
        name: default "accuracy".
        dtype: default float32.
    """

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_BuiltinWrapper):
    """How often thresholded predictions match binary labels (see `binary_accuracy`).

    Args:
        name: default "binary_accuracy".
        dtype: default float32.
        threshold: the decision threshold (default 0.5).
    """

    _CONFIG_KEYS = ("threshold",)

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(_BuiltinWrapper):
    """How often the argmax matches a one-hot label (see `categorical_accuracy`).

    Args:
        name: default "categorical_accuracy".
        dtype: default float32.
    """

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_BuiltinWrapper):
    """How often the argmax matches an integer label (see `sparse_categorical_accuracy`).

    Args:
        name: default "sparse_categorical_accuracy".
        dtype: default float32.
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_BuiltinWrapper):
    """How often a one-hot label is among the top `k` predictions.

    Args:
        k: how many top classes count (default 5).
        name: default "top_k_categorical_accuracy".
        dtype: default float32.
    """

    _CONFIG_KEYS = ("k",)

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(_BuiltinWrapper):
    """How often an integer label is among the top `k` predictions.

    Args:
        k: how many top classes count (default 5).
        name: default "sparse_top_k_categorical_accuracy".
        dtype: default float32.
        from_sorted_ids: whether predictions are class ids sorted by score.
    """

    _CONFIG_KEYS = ("k",)

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids: bool = False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)

    def get_config(self):
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


