"""Embedding (integer indices -> dense vectors) and Masking (skip padded timesteps).

Both produce a mask for the layers after them: `Embedding(mask_zero=True)` masks the
positions whose index is 0, `Masking(mask_value)` the timesteps whose features all equal
`mask_value`. Recurrent and attention layers read that mask (see `trine.core.layer.get_mask`).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine import constraints, initializers, quantizers, regularizers
from trine.core.layer import Layer
from trine.layers.quantizable import Quantizable

__all__ = ["Embedding", "Masking"]


def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _positive_int(layer_name, cls, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"{cls} layer '{layer_name}' expected {arg} to be a positive integer, received "
            f"{arg}={value!r} (of type {type(value).__name__}). Pass e.g. {arg}=16.")
    return int(value)


class Embedding(Quantizable, Layer):
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
        quantization_config: the `trine.quantizers` config of a quantized table (set by
            `quantize("int8" | "int4")`, one scale per row, saved in the config).

    Returns:
        Called on integers of shape `(batch, ...)`, a float array `(batch, ..., output_dim)`.

    Raises:
        ValueError: if `input_dim` or `output_dim` is not a positive integer.
        NotImplementedError: for `lora_rank`.

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
        self.quantization_config = quantizers.get(quantization_config)  # a file's record: rebuilt
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

    # Keras's saved order of the variables of each quantized mode
    _QUANTIZED_LAYOUT = {"int8": ("embeddings", "embeddings_scale"),
                         "int4": ("embeddings", "embeddings_scale", "embeddings_zero", "g_idx")}

    def build(self, input_shape=None):
        if self.built:
            return
        if self.quantization_mode in self._QUANTIZED_LAYOUT:
            self._build_quantized_table(self.quantization_mode, self.quantization_config)
        else:
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
                regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint,
                name="embeddings")
        self.built = True

    def _build_quantized_table(self, mode, config):
        """The int8 table, or the int4 one packed along output_dim; a scale per row (int4
        with blocks: per row and block of output_dim, with zero points)."""
        block = self._int4_block_size(config) if mode == "int4" else None
        columns = self.output_dim if mode == "int8" else (self.output_dim + 1) // 2
        scale_shape = ((self.input_dim,) if block is None
                       else (self.input_dim, -(-self.output_dim // block)))
        self._build_integer_weights("embeddings", (self.input_dim, columns), scale_shape, block,
                                    self.output_dim)

    def _quantize_weights(self, mode, config):
        table, zero = self.embeddings.value, None
        block = self._int4_block_size(config) if mode == "int4" else None
        if block is None:
            default = quantizers.AbsMaxQuantizer(
                axis=-1, value_range=(-127, 127) if mode == "int8" else (-8, 7))
            quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(config, default)
            values, scale = quantizer(table, to_numpy=True)
            scale = scale[:, 0]
        else:  # groups along output_dim: quantize the transposed table
            values, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(
                table.T, block_size=block, to_numpy=True)
            values, scale, zero = values.T, scale.T, zero.T
        if mode == "int4":
            values = quantizers.pack_int4(values, axis=-1)[0]
        self._swap_in_quantized("embeddings", "embeddings",
                                lambda: self._build_quantized_table(mode, config),
                                values, scale, zero)

    def _lookup_quantized(self, inputs, mode):
        rows = jnp.take(self.embeddings.value, inputs, axis=0)
        if mode == "int4":
            rows = quantizers.unpack_int4(rows, self.output_dim, axis=-1)
        rows = rows.astype(self.compute_dtype)
        scale = jnp.take(self.embeddings_scale.value, inputs, axis=0)
        if self.__dict__.get("embeddings_zero") is None:
            return rows / scale[..., None]
        zero = jnp.take(self.embeddings_zero.value, inputs, axis=0)
        return quantizers.dequantize_grouped(rows, scale, zero, self.g_idx.value, group_axis=-1)

    def call(self, inputs):
        inputs = jnp.asarray(inputs)
        if inputs.dtype not in (jnp.int32, jnp.int64):
            inputs = inputs.astype(jnp.int32)
        mode = self.quantization_mode
        if mode is not None:
            return self._lookup_quantized(inputs, mode)
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
            "quantization_config": quantizers.serialize(self.quantization_config),
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
