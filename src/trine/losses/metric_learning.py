"""The Circle loss for metric learning on L2-normalised embeddings."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.core.context import set_mask
from trine.losses.base import _BuiltinLoss, _float_pred, builtin_function


@builtin_function
def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal: bool = True,
           gamma: float = 80, margin: float = 0.4):
    """Circle loss (Sun et al., 2020) on L2-normalised embeddings, one value per query.

    Pairs with the same label are pulled together and others pushed apart, each pair weighted
    by how far it is from its optimum. The result carries a mask of its positive entries
    (as in Keras), so a reducing `Circle` averages over queries that have a loss.

    Args:
        y_true: integer labels `(batch,)`.
        y_pred: L2-normalised embeddings `(batch, dim)`.
        ref_labels: labels of the reference set (default `y_true`).
        ref_embeddings: embeddings of the reference set (default `y_pred`).
        remove_diagonal: leave out each query's pair with itself. Default True.
        gamma: the scale. Default 80.
        margin: the relaxation margin. Default 0.4.

    Returns:
        Per-query losses, shape `(batch,)`.

    Raises:
        ValueError: if `y_pred` is not rank 2.

    Example:
        >>> circle(jnp.array([0, 0, 1]), jnp.eye(3))
    """
    values = _circle_values(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal,
                            gamma, margin)
    set_mask(values, values > 0)
    return values


def _circle_values(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal, gamma, margin):
    y_pred = _float_pred(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(
            "circle expected embeddings y_pred of shape (batch_size, dim), received "
            f"y_pred.shape={tuple(y_pred.shape)}.")
    y_true = jnp.asarray(y_true).astype(jnp.int32).reshape(-1)
    ref = y_pred if ref_embeddings is None else jnp.asarray(ref_embeddings, y_pred.dtype)
    ref_labels = y_true if ref_labels is None else jnp.asarray(ref_labels).astype(
        jnp.int32).reshape(-1)
    dist = jnp.maximum(1 - y_pred @ ref.T, 0.0)
    pos = y_true[:, None] == ref_labels[None, :]
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~jnp.eye(y_true.size, ref_labels.size, dtype=bool)
    pos_w = jnp.maximum((margin + dist) * pos.astype(dist.dtype), 0.0)
    neg_w = jnp.maximum((1 + margin - dist) * neg.astype(dist.dtype), 0.0)
    pos_d = -gamma * pos_w * (margin - dist)
    neg_d = gamma * neg_w * ((1 - margin) - dist)
    p_loss = jax.nn.logsumexp(jnp.where(pos, pos_d, -jnp.inf), axis=1)
    n_loss = jax.nn.logsumexp(jnp.where(neg, neg_d, -jnp.inf), axis=1)
    return jax.nn.softplus(p_loss + n_loss)


# ------------------------------------------------------------------------ classes
class Circle(_BuiltinLoss):
    """Circle loss for metric learning (see `circle`); averages over queries with a loss.

    Args:
        gamma: the scale. Default 80.0.
        margin: the relaxation margin. Default 0.4.
        remove_diagonal: leave out self-pairs. Default True.
        reduction: see `trine.losses.Loss`.
        name: default "circle".
        dtype: see `trine.losses.Loss`.
    """

    _CONFIG_KEYS = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma,
                         margin=margin, remove_diagonal=remove_diagonal)

    def _call_with_mask(self, y_true, y_pred):
        # the mask travels explicitly: an id-keyed mask does not survive tracing reliably
        kw = self._fn_kwargs
        values = _circle_values(y_true, y_pred, None, None, kw["remove_diagonal"], kw["gamma"],
                                kw["margin"])
        return values, values > 0


