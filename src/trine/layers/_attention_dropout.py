"""Dropout on attention weights, as the attention layers apply it: checked rate, inverted
scaling, keyed by the layer's call key with its own seed folded in."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def checked_dropout_rate(layer, dropout) -> float:
    """`dropout` as a float in [0, 1).

    Raises:
        ValueError: naming the layer, for a rate outside [0, 1).
    """
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected dropout in [0, 1), "
            f"received dropout={dropout!r}.")
    return float(dropout)


def drop_attention_weights(layer, weights, rate, training):
    """`weights` with a fraction `rate` zeroed and the rest scaled by `1 / (1 - rate)` in
    training; unchanged otherwise."""
    if not (training and rate > 0.0):
        return weights
    key = layer.rng_key()
    if layer.seed is not None:
        key = jax.random.fold_in(key, int(layer.seed))
    keep = jax.random.bernoulli(key, 1.0 - rate, weights.shape)
    return jnp.where(keep, weights / (1.0 - rate), jnp.zeros((), weights.dtype))
