"""Pooling layers: windowed max/average pooling and global pooling, in 1, 2 and 3 dimensions.

Windowed pooling is `jax.lax.reduce_window`. With padding="same", max pooling pads with -inf
and average pooling divides by the number of real (unpadded) values in each window, as Keras.
"""
from __future__ import annotations


import jax.numpy as jnp

from trine.core.layer import InputSpec, Layer
from trine.core.naming import layer_label
from trine.ops.convolution import normalize_data_format, normalize_padding, normalize_tuple, pool


class _Pooling(Layer):
    """Shared machinery of the windowed pooling layers (Keras `BasePooling`)."""

    rank = 1
    mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        label = layer_label(self)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", label)
        self.strides = normalize_tuple(pool_size if strides is None else strides, self.rank,
                                       "strides", label)
        self.padding = normalize_padding(padding, label)
        self.data_format = normalize_data_format(data_format, label)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        return pool(inputs, self.mode, self.pool_size, self.strides, self.padding,
                    self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]

        def length(n, k, s):
            if n is None:
                return None
            return (n - k) // s + 1 if self.padding == "valid" else (n - 1) // s + 1

        out = tuple(length(n, k, s) for n, k, s in zip(spatial, self.pool_size, self.strides))
        if self.data_format == "channels_last":
            return (input_shape[0],) + out + (input_shape[-1],)
        return input_shape[:2] + out

    def build(self, input_shape):
        out = self.compute_output_shape(input_shape)
        sp = out[1:-1] if self.data_format == "channels_last" else out[2:]
        if any(d is not None and d <= 0 for d in sp):
            raise ValueError(
                f"{layer_label(self)}: inputs of shape {tuple(input_shape)} are smaller than "
                f"pool_size={self.pool_size} with padding='valid'; the output would be empty. "
                "Use a smaller pool_size or padding='same'.")
        self.built = True

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"pool_size": self.pool_size, "padding": self.padding,
                    "strides": self.strides, "data_format": self.data_format})
        return cfg


_POOL_DOC = """{kind} pooling over {what}: the {op} of each window of `pool_size`.

    Args:
        pool_size: int or tuple of {n} ints, the window size{default}.
        strides: int or tuple of {n} ints, or None (default) for `pool_size`.
        padding: "valid" (no padding) or "same" (output size ceil(size / strides)){same_note}.
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        The pooled tensor, same rank as the input.

    Raises:
        ValueError: on invalid arguments, or inputs smaller than a "valid" window.

    Example:
        >>> {name}({example_arg})(jnp.ones({example_in})).shape
        {example_out}
    """


class MaxPooling1D(_Pooling):
    rank = 1
    mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling2D(_Pooling):
    rank = 2
    mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling3D(_Pooling):
    rank = 3
    mode = "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(_Pooling):
    rank = 1
    mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling2D(_Pooling):
    rank = 2
    mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling3D(_Pooling):
    rank = 3
    mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


_WHAT = {1: "temporal data `(batch, steps, channels)`",
         2: "images `(batch, height, width, channels)`",
         3: "volumes `(batch, d1, d2, d3, channels)`"}
_EX = {1: ("(2, 8, 3)", "(2, 4, 3)"), 2: ("(2, 8, 8, 3)", "(2, 4, 4, 3)"),
       3: ("(1, 4, 4, 4, 2)", "(1, 2, 2, 2, 2)")}
for _cls in (MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D,
             AveragePooling3D):
    _n = _cls.rank
    _max = _cls.mode == "max"
    _cls.__doc__ = _POOL_DOC.format(
        kind="Max" if _max else "Average", what=_WHAT[_n], op="maximum" if _max else "mean",
        n=_n, default=f" (default {(2,) * _n if _n > 1 else 2})" if _max else "",
        same_note="" if _max else "; windows at the border average only their real values",
        name=_cls.__name__, example_arg="" if _max else "2",
        example_in=_EX[_n][0],
        example_out=_EX[_n][1])


# --------------------------------------------------------------------------------------
class _GlobalPooling(Layer):
    """Shared machinery of the global pooling layers (Keras `BaseGlobalPooling`)."""

    rank = 1
    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, layer_label(self))
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _axes(self):
        if self.data_format == "channels_last":
            return tuple(range(1, self.rank + 1))
        return tuple(range(2, self.rank + 2))

    def call(self, inputs):
        if self.mode == "max":
            return jnp.max(inputs, axis=self._axes(), keepdims=self.keepdims)
        return jnp.mean(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.data_format == "channels_last":
            if self.keepdims:
                return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
            return (input_shape[0], input_shape[-1])
        if self.keepdims:
            return input_shape[:2] + (1,) * self.rank
        return input_shape[:2]

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return cfg


_GLOBAL_DOC = """Global {kind} pooling over the {axes} of {what}.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the reduced axes with length 1 (default False).{mask_arg}

    Returns (when called):
        `(batch, channels)`, or with keepdims `(batch, {ones}channels)` (channels_last).

    Raises:
        ValueError: on an invalid data_format, or inputs of the wrong rank.

    Example:
        >>> {name}()(jnp.ones({example_in})).shape
        {example_out}
    """


class GlobalMaxPooling1D(_GlobalPooling):
    rank = 1
    mode = "max"


class GlobalMaxPooling2D(_GlobalPooling):
    rank = 2
    mode = "max"


class GlobalMaxPooling3D(_GlobalPooling):
    rank = 3
    mode = "max"


class GlobalAveragePooling1D(_GlobalPooling):
    rank = 1
    mode = "average"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        steps = 1 if self.data_format == "channels_last" else 2
        m = jnp.expand_dims(jnp.asarray(mask).astype(bool), 2 if steps == 1 else 1)
        summed = jnp.sum(jnp.where(m, inputs, jnp.zeros((), inputs.dtype)), axis=steps,
                         keepdims=self.keepdims)
        count = jnp.sum(m.astype(inputs.dtype), axis=steps, keepdims=self.keepdims)
        return summed / count


class GlobalAveragePooling2D(_GlobalPooling):
    rank = 2
    mode = "average"


class GlobalAveragePooling3D(_GlobalPooling):
    rank = 3
    mode = "average"


_GEX = {1: ("(2, 8, 3)", "(2, 3)"), 2: ("(2, 4, 4, 3)", "(2, 3)"), 3: ("(1, 2, 2, 2, 3)", "(1, 3)")}
for _cls in (GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, GlobalAveragePooling1D,
             GlobalAveragePooling2D, GlobalAveragePooling3D):
    _n = _cls.rank
    _cls.__doc__ = _GLOBAL_DOC.format(
        kind="max" if _cls.mode == "max" else "average",
        axes="steps axis" if _n == 1 else "spatial axes", what=_WHAT[_n], ones="1, " * _n,
        mask_arg=("\n        mask (call argument): `(batch, steps)` booleans; masked steps are "
                  "left out of the mean." if _cls is GlobalAveragePooling1D else ""),
        name=_cls.__name__, example_in=_GEX[_n][0], example_out=_GEX[_n][1])

# Keras aliases
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (GlobalMaxPooling1D, GlobalMaxPooling2D,
                                                     GlobalMaxPooling3D)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D,
                                                     GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)

__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D",
    "AvgPool3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D",
    "MaxPooling2D", "MaxPooling3D",
]
