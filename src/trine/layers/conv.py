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

from trine import activations
from trine.core.layer import InputSpec, Layer
from trine.core.naming import layer_label
from trine.layers._int_args import is_positive_int
from trine.layers._weight_args import set_weight_args, weight_args_config
from trine.ops import convolution as conv_maths  # convolve: the one convolution helper
from trine.ops.convolution import (conv_output_length, normalize_data_format, normalize_padding,
                                   normalize_tuple)


# --------------------------------------------------------------------------------------
# argument helpers (shared with pooling.py and reshaping.py)
def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _conv_geometry(label, rank, kernel_size, strides, dilation_rate, padding, data_format,
                   allow_causal=False):
    """A convolution's `(kernel_size, strides, dilation_rate, padding, data_format)`,
    normalized and checked (strides > 1 excludes dilation > 1); `label` names the layer."""
    kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", label)
    strides = normalize_tuple(strides, rank, "strides", label)
    dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", label)
    padding = normalize_padding(padding, label, allow_causal=allow_causal)
    data_format = normalize_data_format(data_format, label)
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            f"{label}: `strides` > 1 cannot be combined with `dilation_rate` > 1, received "
            f"strides={strides}, dilation_rate={dilation_rate}. Use one or the other.")
    return kernel_size, strides, dilation_rate, padding, data_format


# the arguments that place the kernel, in Keras's config order
_GEOMETRY = ("kernel_size", "strides", "padding", "data_format", "dilation_rate")


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
        label = layer_label(self)
        if lora_rank is not None:
            raise NotImplementedError(f"{label}: lora_rank is not supported yet; remove it.")
        if filters is not None and not is_positive_int(filters):
            raise ValueError(
                f"{label}: argument `filters` must be a positive integer, received "
                f"filters={filters!r}.")
        if not is_positive_int(groups):
            raise ValueError(
                f"{label}: argument `groups` must be a positive integer, received "
                f"groups={groups!r}.")
        if filters is not None and filters % groups:
            raise ValueError(
                f"{label}: `filters` must be divisible by `groups`, received filters={filters}, "
                f"groups={groups}. Pick filters as a multiple of groups.")
        self.filters = None if filters is None else int(filters)
        self.groups = int(groups)
        (self.kernel_size, self.strides, self.dilation_rate, self.padding,
         self.data_format) = _conv_geometry(label, self.rank, kernel_size, strides,
                                            dilation_rate, padding, data_format,
                                            self._allow_causal)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_args(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_args(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
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
                f"{layer_label(self)} expected input of rank {self.rank + 2} ({layout}), "
                f"received shape {input_shape}.")
        ch = input_shape[self._channel_axis]
        if ch is None:
            raise ValueError(
                f"{layer_label(self)} needs a known channel axis to create its kernel, received "
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
                f"{layer_label(self)}: inputs of shape {tuple(input_shape)} are too small for "
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
    def _keras_config(self, leading, kernels, geometry=_GEOMETRY, trailing=()):
        """Keras's config, in its order: the base layer's entries, the arguments named in
        `leading`, `geometry` and `trailing`, activation and use_bias, then the weight
        arguments of `kernels` (by argument prefix, e.g. "depthwise") and of the bias."""
        base = super().get_config()
        cfg = {k: base[k] for k in base if k in ("name", "trainable", "dtype", "batch_input_shape")}
        cfg.update({arg: getattr(self, arg) for arg in leading + geometry + trailing})
        cfg["activation"] = activations.serialize(self.activation)
        cfg["use_bias"] = self.use_bias
        cfg.update(weight_args_config(self, kernels + ("bias",), activity_regularizer=True))
        return cfg


class _Conv(_BaseConv):
    """N-d convolution (Keras `BaseConv`)."""

    def build(self, input_shape):
        in_ch = self._input_channels(input_shape)
        if in_ch % self.groups:
            raise ValueError(
                f"{layer_label(self)}: the number of input channels ({in_ch}) must be divisible "
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
        return conv_maths.convolve(inputs, kernel, self.strides, self._conv_padding(), self.dilation_rate,
                     self.data_format, groups=self.groups)

    def call(self, inputs):
        return self._finish(self.convolution_op(self._causal_pad(inputs), self.kernel))

    def get_config(self):
        return self._keras_config(("filters",), ("kernel",), trailing=("groups",))


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


__all__ = ["Conv1D", "Conv2D", "Conv3D"]
