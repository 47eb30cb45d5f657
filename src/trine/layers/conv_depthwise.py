"""Depthwise and separable convolution layers (kernel layouts as Keras: depthwise
`kernel_size + (in_channels, depth_multiplier)`, pointwise `(1,) * rank + (in_channels *
depth_multiplier, filters)`)."""
from __future__ import annotations

import jax.numpy as jnp

from trine import constraints, initializers, regularizers
from trine.core.naming import layer_label
from trine.layers._int_args import is_positive_int
from trine.layers.conv import _BaseConv
from trine.ops import convolution as conv_maths  # convolve: the one convolution helper


class _DepthwiseKernel(_BaseConv):
    """What depthwise and separable convolutions share: a depthwise kernel whose arguments
    Keras names `depthwise_*`, and its `depth_multiplier`."""

    depthwise_initializer = property(lambda self: self.kernel_initializer)
    depthwise_regularizer = property(lambda self: self.kernel_regularizer)
    depthwise_constraint = property(lambda self: self.kernel_constraint)

    def _checked_depth_multiplier(self, depth_multiplier):
        if not is_positive_int(depth_multiplier):
            raise ValueError(
                f"{layer_label(self)}: argument `depth_multiplier` must be a positive integer, "
                f"received depth_multiplier={depth_multiplier!r}.")
        return int(depth_multiplier)


class _DepthwiseConv(_DepthwiseKernel):
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
        self.depth_multiplier = self._checked_depth_multiplier(depth_multiplier)

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
        y = conv_maths.convolve(inputs, k, self.strides, self.padding, self.dilation_rate, self.data_format,
                  groups=in_ch)
        return self._finish(y)

    def get_config(self):
        return self._keras_config(("depth_multiplier",), ("depthwise",))


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
class _SeparableConv(_DepthwiseKernel):
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
        self.depth_multiplier = self._checked_depth_multiplier(depth_multiplier)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

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
        y = conv_maths.convolve(inputs, dk, self.strides, self.padding, self.dilation_rate, self.data_format,
                  groups=in_ch)
        y = conv_maths.convolve(y, self.pointwise_kernel.value, (1,) * self.rank, "valid", (1,) * self.rank,
                  self.data_format)
        return self._finish(y)

    def get_config(self):
        return self._keras_config(("depth_multiplier", "filters"), ("depthwise", "pointwise"))


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


__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]
