"""The connectionist temporal classification (CTC) loss, with class 0 as blank and padding."""
from __future__ import annotations

import jax.numpy as jnp

from trine import ops
from trine.losses.base import _BuiltinLoss, builtin_function


@builtin_function
def ctc(y_true, y_pred):
    """Connectionist temporal classification loss, with class 0 as the blank and padding.

    Args:
        y_true: integer labels `(batch, max_label_length)`, padded with 0.
        y_pred: logits `(batch, time, num_classes)`.

    Returns:
        Per-sequence losses, shape `(batch,)`.

    Raises:
        ValueError: if `y_true` is not rank 2 or `y_pred` not rank 3.

    Example:
        >>> ctc(jnp.array([[1, 2]]), jnp.zeros((1, 5, 3)))
    """
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.ndim != 2:
        raise ValueError(
            "ctc expected integer labels y_true of shape (batch_size, max_length), received "
            f"y_true.shape={tuple(y_true.shape)}. Pad label sequences with 0 to one length.")
    if y_pred.ndim != 3:
        raise ValueError(
            "ctc expected logits y_pred of shape (batch_size, max_length, num_classes), "
            f"received y_pred.shape={tuple(y_pred.shape)}.")
    batch, time = y_pred.shape[0], y_pred.shape[1]
    label_length = jnp.sum(y_true != 0, axis=-1).astype(jnp.int32)
    return ops.ctc_loss(y_true, y_pred, label_length, jnp.full((batch,), time, jnp.int32),
                        mask_index=0)


class CTC(_BuiltinLoss):
    """CTC loss with class 0 as blank and label padding (see `ctc`).

    Args:
        reduction: see `trine.losses.Loss`.
        name: default "ctc".
        dtype: see `trine.losses.Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)


