"""Convolution layers: Conv1D/2D/3D, their transposes, depthwise and separable convolutions.

Kernel layouts are exactly Keras 3's, so weights move between trine and Keras unchanged:

- `ConvND`:            `kernel_size + (in_channels // groups, filters)`
- `ConvNDTranspose`:   `kernel_size + (filters, in_channels)`
- `DepthwiseConvND`:   `kernel_size + (in_channels, depth_multiplier)`
- `SeparableConvND`:   depthwise as above; pointwise
                       `(1,) * rank + (in_channels * depth_multiplier, filters)`

Every convolution goes through one function, `trine.ops.convolution.convolve`; on CPU it
runs channels-last convolutions as patches times a matrix (`trine.ops.cpu_paths`), which
XLA's CPU backend runs 2-4x faster than its own convolution.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine import activations, constraints, initializers, regularizers
from trine.core.layer import InputSpec, Layer
from trine.ops.convolution import (conv_output_length, convolve, normalize_data_format,
                                   normalize_padding, normalize_tuple, transpose_output_length,
                                   transpose_padding)


# --------------------------------------------------------------------------------------
# argument helpers (shared with pooling.py and reshaping.py)
def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _is_positive_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0


def _layer_label(layer) -> str:
    return f"{type(layer).__name__} layer '{layer.name}'"


# --------------------------------------------------------------------------------------
class _BaseConv(Layer):
    """Shared machinery of the convolution layers (arguments, bias, activation, config)."""

    rank = 1
    _allow_causal = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        label = _layer_label(self)
        if lora_rank is not None:
            raise NotImplementedError(f"{label}: lora_rank is not supported yet; remove it.")
        if filters is not None and not _is_positive_int(filters):
            raise ValueError(
                f"{label}: argument `filters` must be a positive integer, received "
                f"filters={filters!r}.")
        if not _is_positive_int(groups):
            raise ValueError(
                f"{label}: argument `groups` must be a positive integer, received "
                f"groups={groups!r}.")
        if filters is not None and filters % groups:
            raise ValueError(
                f"{label}: `filters` must be divisible by `groups`, received filters={filters}, "
                f"groups={groups}. Pick filters as a multiple of groups.")
        self.filters = None if filters is None else int(filters)
        self.groups = int(groups)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", label)
        self.strides = normalize_tuple(strides, self.rank, "strides", label)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", label)
        self.padding = normalize_padding(padding, label, allow_causal=self._allow_causal)
        self.data_format = normalize_data_format(data_format, label)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{label}: `strides` > 1 cannot be combined with `dilation_rate` > 1, received "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}. Use one or the "
                "other.")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=self.rank + 2)

    # ------------------------------------------------------------ shapes
    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def _input_channels(self, input_shape) -> int:
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            layout = ("batch, spatial axes, channels" if self.data_format == "channels_last"
                      else "batch, channels, spatial axes")
            raise ValueError(
                f"{_layer_label(self)} expected input of rank {self.rank + 2} ({layout}), "
                f"received shape {input_shape}.")
        ch = input_shape[self._channel_axis]
        if ch is None:
            raise ValueError(
                f"{_layer_label(self)} needs a known channel axis to create its kernel, received "
                f"input shape {input_shape} (data_format={self.data_format!r}).")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: ch})
        return int(ch)

    def _check_output_size(self, input_shape):
        spatial = self._spatial(input_shape)
        pad = "same" if self.padding == "causal" else self.padding
        out = [conv_output_length(n, k, s, pad, d) for n, k, s, d in
               zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f"{_layer_label(self)}: inputs of shape {tuple(input_shape)} are too small for "
                f"kernel_size={self.kernel_size}, dilation_rate={self.dilation_rate}, "
                f"strides={self.strides} with padding={self.padding!r}; the output would be "
                "empty. Use larger inputs, a smaller kernel, or padding='same'.")

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        ch = self._out_channels(input_shape)
        pad = "same" if self.padding == "causal" else self.padding
        spatial = tuple(conv_output_length(n, k, s, pad, d) for n, k, s, d in
                        zip(self._spatial(input_shape), self.kernel_size, self.strides,
                            self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (ch,)
        return (input_shape[0], ch) + spatial

    def _out_channels(self, input_shape):
        return self.filters

    # ------------------------------------------------------------ weights
    def _add_bias(self, n):
        if self.use_bias:
            self.bias = self.add_weight(shape=(n,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None

    def _finish(self, x):
        if self.bias is not None:
            shape = ((1,) * (self.rank + 1) + (-1,) if self.data_format == "channels_last"
                     else (1, -1) + (1,) * self.rank)
            x = x + jnp.reshape(self.bias.value, shape).astype(x.dtype)
        return self.activation(x)

    def _conv_padding(self):
        return "valid" if self.padding == "causal" else self.padding

    def _causal_pad(self, x):
        if self.padding != "causal":
            return x
        left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
        pads = [(0, 0)] * x.ndim
        pads[1 if self.data_format == "channels_last" else 2] = (left, 0)
        return jnp.pad(x, pads)

    # ------------------------------------------------------------ config
    def _common_config(self):
        cfg = super().get_config()
        cfg.update({
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        })
        return cfg

    def _tail_config(self):
        return {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


class _Conv(_BaseConv):
    """N-d convolution (Keras `BaseConv`)."""

    def build(self, input_shape):
        in_ch = self._input_channels(input_shape)
        if in_ch % self.groups:
            raise ValueError(
                f"{_layer_label(self)}: the number of input channels ({in_ch}) must be divisible "
                f"by groups={self.groups}; received input shape {tuple(input_shape)}.")
        self._check_output_size(input_shape)
        self.kernel = self.add_weight(
            shape=self.kernel_size + (in_ch // self.groups, self.filters),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, name="kernel")
        self._add_bias(self.filters)
        self.built = True

    def convolution_op(self, inputs, kernel):
        """The convolution of `inputs` with `kernel` under this layer's strides, padding,
        dilation, data format and groups (Keras's hook: subclasses override it to transform
        the kernel, e.g. weight standardization).

        Args:
            inputs: the (already causally padded) input batch.
            kernel: a kernel array or Variable of this layer's kernel shape.

        Returns:
            The convolution, before bias and activation.
        """
        kernel = getattr(kernel, "value", kernel)
        return convolve(inputs, kernel, self.strides, self._conv_padding(), self.dilation_rate,
                     self.data_format, groups=self.groups)

    def call(self, inputs):
        return self._finish(self.convolution_op(self._causal_pad(inputs), self.kernel))

    def get_config(self):
        cfg = self._common_config()
        out = {k: cfg[k] for k in cfg if k in ("name", "trainable", "dtype", "batch_input_shape")}
        out["filters"] = self.filters
        out.update({k: cfg[k] for k in ("kernel_size", "strides", "padding", "data_format",
                                        "dilation_rate")})
        out["groups"] = self.groups
        out.update(self._tail_config())
        out.update({
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        })
        return out


class Conv1D(_Conv):
    """1D convolution (temporal convolution) over `(batch, steps, channels)` inputs.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 1 int, the window length.
        strides: int or tuple of 1 int (default 1).
        padding: "valid" (no padding), "same" (output length ceil(steps / strides)) or
            "causal" (left padding only, so output t sees inputs <= t).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 1 int (cannot exceed 1 together with strides).
        groups: split the channels into this many groups, convolved separately.
        activation: applied to the output (default none).
        use_bias: whether to add a bias (default True).
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer: penalties.
        kernel_constraint / bias_constraint: projections after each update.

    Returns (when called):
        `(batch, new_steps, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments, or inputs whose channels do not divide by `groups`.

    Example:
        >>> Conv1D(4, 3, padding="causal")(jnp.ones((2, 10, 3))).shape
        (2, 10, 4)
    """

    rank = 1
    _allow_causal = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv2D(_Conv):
    """2D convolution over images `(batch, height, width, channels)`.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default (1, 1)).
        padding: "valid" or "same".
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 2 ints.
        groups: number of channel groups.
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as `Conv1D`.

    Returns (when called):
        `(batch, new_height, new_width, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments or incompatible inputs.

    Example:
        >>> Conv2D(8, 3, padding="same")(jnp.ones((2, 5, 5, 3))).shape
        (2, 5, 5, 8)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv3D(_Conv):
    """3D convolution over volumes `(batch, d1, d2, d3, channels)`.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 3 ints.
        strides: int or tuple of 3 ints (default (1, 1, 1)).
        padding: "valid" or "same".
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 3 ints.
        groups: number of channel groups.
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as `Conv1D`.

    Returns (when called):
        `(batch, n1, n2, n3, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments or incompatible inputs.

    Example:
        >>> Conv3D(2, 2)(jnp.ones((1, 4, 4, 4, 1))).shape
        (1, 3, 3, 3, 2)
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


# --------------------------------------------------------------------------------------
class _ConvTranspose(_BaseConv):
    """N-d transposed convolution (Keras `BaseConvTranspose`)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)
        label = _layer_label(self)
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding",
                                                  label, allow_zero=True)
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        f"{label}: each entry of `output_padding` must be smaller than the "
                        f"matching stride, received output_padding={self.output_padding} and "
                        f"strides={self.strides} (axis {i}).")

    def build(self, input_shape):
        in_ch = self._input_channels(input_shape)
        self.kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, in_ch), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel")
        self._add_bias(self.filters)
        self.built = True

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        ops = self.output_padding or (None,) * self.rank
        spatial = tuple(transpose_output_length(n, k, s, self.padding, op, d) for n, k, s, op, d
                        in zip(self._spatial(input_shape), self.kernel_size, self.strides, ops,
                               self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (self.filters,)
        return (input_shape[0], self.filters) + spatial

    def call(self, inputs):
        ops = self.output_padding or (None,) * self.rank
        pads = [transpose_padding(k, s, self.padding, op, d) for k, s, op, d in
                zip(self.kernel_size, self.strides, ops, self.dilation_rate)]
        # A transposed convolution is the convolution of the stride-dilated input with the
        # spatially flipped kernel whose in/out channel axes are swapped.
        k = self.kernel.value
        k = jnp.flip(k, axis=tuple(range(self.rank)))
        k = jnp.swapaxes(k, -1, -2)
        y = convolve(inputs, k, (1,) * self.rank, pads, self.dilation_rate, self.data_format,
                  lhs_dilation=self.strides)
        return self._finish(y)

    def get_config(self):
        cfg = self._common_config()
        out = {k: cfg[k] for k in cfg if k in ("name", "trainable", "dtype", "batch_input_shape")}
        out.update({"filters": self.filters, "kernel_size": self.kernel_size,
                    "strides": self.strides, "padding": self.padding,
                    "output_padding": self.output_padding, "data_format": self.data_format,
                    "dilation_rate": self.dilation_rate})
        out.update(self._tail_config())
        out.update({
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        })
        return out


class Conv1DTranspose(_ConvTranspose):
    """1D transposed convolution ("deconvolution"), the gradient of `Conv1D`.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 1 int.
        strides: int or tuple of 1 int (default 1).
        padding: "valid" or "same".
        output_padding: extra length added on one side of the output (each entry smaller
            than the stride), or None to infer it.
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 1 int.
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as `Conv1D`.

    Returns (when called):
        `(batch, new_steps, filters)`; with padding="same" and no output_padding,
        `new_steps = steps * strides`.

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> Conv1DTranspose(4, 3, strides=2, padding="same")(jnp.ones((2, 5, 3))).shape
        (2, 10, 4)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(_ConvTranspose):
    """2D transposed convolution, the gradient of `Conv2D` (used to upsample feature maps).

    Args:
        filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as
        `Conv1DTranspose`, with tuples of 2 ints.

    Returns (when called):
        `(batch, new_height, new_width, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> Conv2DTranspose(4, 3, strides=2, padding="same")(jnp.ones((1, 4, 4, 2))).shape
        (1, 8, 8, 4)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3DTranspose(_ConvTranspose):
    """3D transposed convolution, the gradient of `Conv3D`.

    Note Keras's argument order here: `data_format` comes before `output_padding`.

    Args:
        filters, kernel_size, strides, padding, data_format, output_padding, dilation_rate,
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as
        `Conv1DTranspose`, with tuples of 3 ints.

    Returns (when called):
        `(batch, n1, n2, n3, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> Conv3DTranspose(2, 2, strides=2)(jnp.ones((1, 2, 2, 2, 1))).shape
        (1, 4, 4, 4, 2)
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, output_padding=None, dilation_rate=(1, 1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# --------------------------------------------------------------------------------------
class _DepthwiseConv(_BaseConv):
    """N-d depthwise convolution (Keras `BaseDepthwiseConv`)."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        if not _is_positive_int(depth_multiplier):
            raise ValueError(
                f"{_layer_label(self)}: argument `depth_multiplier` must be a positive integer, "
                f"received depth_multiplier={depth_multiplier!r}.")
        self.depth_multiplier = int(depth_multiplier)

    # Keras names for the kernel arguments of depthwise layers
    depthwise_initializer = property(lambda self: self.kernel_initializer)
    depthwise_regularizer = property(lambda self: self.kernel_regularizer)
    depthwise_constraint = property(lambda self: self.kernel_constraint)

    def _out_channels(self, input_shape):
        ch = input_shape[self._channel_axis]
        return None if ch is None else ch * self.depth_multiplier

    def build(self, input_shape):
        in_ch = self._input_channels(input_shape)
        self._check_output_size(input_shape)
        self.kernel = self.add_weight(
            shape=self.kernel_size + (in_ch, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, name="kernel")
        self._add_bias(in_ch * self.depth_multiplier)
        self.built = True

    def call(self, inputs):
        k = self.kernel.value
        in_ch = k.shape[-2]
        k = jnp.reshape(k, k.shape[:-2] + (1, in_ch * self.depth_multiplier))
        y = convolve(inputs, k, self.strides, self.padding, self.dilation_rate, self.data_format,
                  groups=in_ch)
        return self._finish(y)

    def get_config(self):
        cfg = self._common_config()
        out = {k: cfg[k] for k in cfg if k in ("name", "trainable", "dtype", "batch_input_shape")}
        out["depth_multiplier"] = self.depth_multiplier
        out.update({k: cfg[k] for k in ("kernel_size", "strides", "padding", "data_format",
                                        "dilation_rate")})
        out.update(self._tail_config())
        out.update({
            "depthwise_initializer": _ser(initializers, self.kernel_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "depthwise_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "depthwise_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        })
        return out


class DepthwiseConv1D(_DepthwiseConv):
    """1D depthwise convolution: each input channel is convolved with its own
    `depth_multiplier` filters (no mixing across channels).

    Args:
        kernel_size: int or tuple of 1 int.
        strides: int or tuple of 1 int (default 1).
        padding: "valid" or "same".
        depth_multiplier: output channels per input channel (default 1).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 1 int.
        activation, use_bias: as `Conv1D`.
        depthwise_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        depthwise_regularizer / bias_regularizer / activity_regularizer: penalties.
        depthwise_constraint / bias_constraint: projections after each update.

    Returns (when called):
        `(batch, new_steps, channels * depth_multiplier)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> DepthwiseConv1D(3, depth_multiplier=2)(jnp.ones((2, 8, 3))).shape
        (2, 6, 6)
    """

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(_DepthwiseConv):
    """2D depthwise convolution (see `DepthwiseConv1D`), over images.

    Args:
        kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
        activation, use_bias, depthwise_* / bias_* arguments: as `DepthwiseConv1D`, with
        tuples of 2 ints.

    Returns (when called):
        `(batch, new_height, new_width, channels * depth_multiplier)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> DepthwiseConv2D(3, padding="same")(jnp.ones((1, 5, 5, 4))).shape
        (1, 5, 5, 4)
    """

    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


# --------------------------------------------------------------------------------------
class _SeparableConv(_BaseConv):
    """Depthwise then pointwise (1x1) convolution (Keras `BaseSeparableConv`)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        if not _is_positive_int(depth_multiplier):
            raise ValueError(
                f"{_layer_label(self)}: argument `depth_multiplier` must be a positive integer, "
                f"received depth_multiplier={depth_multiplier!r}.")
        self.depth_multiplier = int(depth_multiplier)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    depthwise_initializer = property(lambda self: self.kernel_initializer)
    depthwise_regularizer = property(lambda self: self.kernel_regularizer)
    depthwise_constraint = property(lambda self: self.kernel_constraint)

    def build(self, input_shape):
        in_ch = self._input_channels(input_shape)
        self._check_output_size(input_shape)
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (in_ch, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * self.rank + (in_ch * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, name="pointwise_kernel")
        self._add_bias(self.filters)
        self.built = True

    def call(self, inputs):
        dk = self.depthwise_kernel.value
        in_ch = dk.shape[-2]
        dk = jnp.reshape(dk, dk.shape[:-2] + (1, in_ch * self.depth_multiplier))
        y = convolve(inputs, dk, self.strides, self.padding, self.dilation_rate, self.data_format,
                  groups=in_ch)
        y = convolve(y, self.pointwise_kernel.value, (1,) * self.rank, "valid", (1,) * self.rank,
                  self.data_format)
        return self._finish(y)

    def get_config(self):
        cfg = self._common_config()
        out = {k: cfg[k] for k in cfg if k in ("name", "trainable", "dtype", "batch_input_shape")}
        out.update({"depth_multiplier": self.depth_multiplier, "filters": self.filters})
        out.update({k: cfg[k] for k in ("kernel_size", "strides", "padding", "data_format",
                                        "dilation_rate")})
        out.update(self._tail_config())
        out.update({
            "depthwise_initializer": _ser(initializers, self.kernel_initializer),
            "pointwise_initializer": _ser(initializers, self.pointwise_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "depthwise_regularizer": _ser(regularizers, self.kernel_regularizer),
            "pointwise_regularizer": _ser(regularizers, self.pointwise_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "depthwise_constraint": _ser(constraints, self.kernel_constraint),
            "pointwise_constraint": _ser(constraints, self.pointwise_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        })
        return out


class SeparableConv1D(_SeparableConv):
    """1D separable convolution: a depthwise convolution, then a pointwise (1x1) one that
    mixes channels.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 1 int.
        strides: int or tuple of 1 int (default 1).
        padding: "valid" or "same".
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 1 int.
        depth_multiplier: depthwise output channels per input channel (default 1).
        activation, use_bias: as `Conv1D`.
        depthwise_initializer / pointwise_initializer / bias_initializer: defaults
            "glorot_uniform" / "glorot_uniform" / "zeros".
        depthwise_regularizer / pointwise_regularizer / bias_regularizer /
            activity_regularizer: penalties.
        depthwise_constraint / pointwise_constraint / bias_constraint: projections.

    Returns (when called):
        `(batch, new_steps, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> SeparableConv1D(4, 3)(jnp.ones((2, 8, 3))).shape
        (2, 6, 4)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv2D(_SeparableConv):
    """2D separable convolution (see `SeparableConv1D`), over images.

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
        activation, use_bias, and the depthwise_* / pointwise_* / bias_* arguments: as
        `SeparableConv1D`, with tuples of 2 ints.

    Returns (when called):
        `(batch, new_height, new_width, filters)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> SeparableConv2D(8, 3, padding="same")(jnp.ones((1, 5, 5, 3))).shape
        (1, 5, 5, 8)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


# Keras aliases
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose)
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D

__all__ = [
    "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose",
    "Convolution1D", "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose",
    "Convolution3D", "Convolution3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
]
