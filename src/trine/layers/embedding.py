"""Embedding (integer indices -> dense vectors) and Masking (skip padded timesteps).

Both produce a mask for the layers after them: `Embedding(mask_zero=True)` masks the
positions whose index is 0, `Masking(mask_value)` the timesteps whose features all equal
`mask_value`. Recurrent and attention layers read that mask (see `trine.core.layer.get_mask`).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine import constraints, initializers, regularizers
from trine.core.layer import Layer

__all__ = ["Embedding", "Masking"]


def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _positive_int(layer_name, cls, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"{cls} layer '{layer_name}' expected {arg} to be a positive integer, received "
            f"{arg}={value!r} (of type {type(value).__name__}). Pass e.g. {arg}=16.")
    return int(value)


class Embedding(Layer):
    """Turn non-negative integer indices into dense vectors of size `output_dim`.

    Args:
        input_dim: size of the vocabulary, i.e. the largest index + 1.
        output_dim: size of each embedding vector.
        embeddings_initializer: initializer of the `(input_dim, output_dim)` table
            (default "uniform", i.e. uniform in [-0.05, 0.05]).
        embeddings_regularizer: penalty on the table.
        embeddings_constraint: projection of the table after each update.
        mask_zero: if True, index 0 is padding: the layer outputs a mask (`inputs != 0`)
            that masking-aware layers after it (LSTM, GRU, attention) respect. Index 0
            then cannot be a real token, so `input_dim` should be vocabulary size + 1.
        weights: optional initial table, an array of shape `(input_dim, output_dim)`.

    Returns:
        Called on integers of shape `(batch, ...)`, a float array `(batch, ..., output_dim)`.

    Raises:
        ValueError: if `input_dim` or `output_dim` is not a positive integer.
        NotImplementedError: for `lora_rank` or a quantization config.

    Example:
        >>> layer = Embedding(1000, 8, mask_zero=True)
        >>> layer(jnp.array([[4, 20, 0]])).shape
        (1, 3, 8)
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(self.name, "Embedding", "input_dim", input_dim)
        self.output_dim = _positive_int(self.name, "Embedding", "output_dim", output_dim)
        if lora_rank is not None:
            raise NotImplementedError(
                f"Embedding layer '{self.name}': lora_rank is not supported yet; remove it.")
        if quantization_config is not None:
            raise NotImplementedError(
                f"Embedding layer '{self.name}': quantization_config is not supported yet; "
                "pass quantization_config=None.")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False
        if weights is not None:
            if isinstance(weights, (list, tuple)) and len(weights) == 1:
                weights = weights[0]
            self.build()
            self.built = True
            self.set_weights([np.asarray(weights)])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint,
            name="embeddings")
        self.built = True

    def call(self, inputs):
        inputs = jnp.asarray(inputs)
        if inputs.dtype not in (jnp.int32, jnp.int64):
            inputs = inputs.astype(jnp.int32)
        out = jnp.take(self.embeddings.value, inputs, axis=0)
        return out.astype(self.compute_dtype)

    def compute_mask(self, inputs, previous_mask=None):
        """`inputs != 0` when `mask_zero`, else no mask."""
        if not self.mask_zero:
            return None
        return jnp.not_equal(jnp.asarray(inputs), 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": _ser(initializers, self.embeddings_initializer),
            "embeddings_regularizer": _ser(regularizers, self.embeddings_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "embeddings_constraint": _ser(constraints, self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        })
        return cfg


class Masking(Layer):
    """Mask the timesteps whose features all equal `mask_value`.

    The output equals the input with masked timesteps set to 0, and carries a mask of
    shape `(batch, timesteps)` (True where a timestep is kept) for the layers after it.

    Args:
        mask_value: the padding value (default 0.0).

    Returns:
        An array of the input's shape.

    Example:
        >>> x = jnp.array([[[1.0, 2.0], [0.0, 0.0]]])
        >>> Masking()(x).shape   # the mask is [[True, False]]
        (1, 2, 2)
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, dict):
            raise TypeError(
                f"Masking layer '{self.name}' expected mask_value to be a number, received "
                f"a serialized object {mask_value!r}. Pass a plain number such as 0.0.")
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def _keep(self, inputs, keepdims):
        return jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def call(self, inputs):
        return jnp.where(self._keep(inputs, True), inputs, jnp.zeros((), inputs.dtype))

    def compute_mask(self, inputs, previous_mask=None):
        """True where any feature of a timestep differs from `mask_value`."""
        return self._keep(jnp.asarray(inputs), False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["mask_value"] = self.mask_value
        return cfg
