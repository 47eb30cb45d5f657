"""Transposed convolution layers: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose (kernel
layout `kernel_size + (filters, in_channels)`, as Keras)."""
from __future__ import annotations

import jax.numpy as jnp

from trine.core.naming import layer_label
from trine.layers.conv import _BaseConv
from trine.ops import convolution as conv_maths  # convolve: the one convolution helper
from trine.ops.convolution import normalize_tuple, transpose_output_length, transpose_padding


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
        label = layer_label(self)
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
        y = conv_maths.convolve(inputs, k, (1,) * self.rank, pads, self.dilation_rate, self.data_format,
                  lhs_dilation=self.strides)
        return self._finish(y)

    def get_config(self):
        return self._keras_config(("filters",), ("kernel",), geometry=(
            "kernel_size", "strides", "padding", "output_padding", "data_format",
            "dilation_rate"))


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


__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"]
