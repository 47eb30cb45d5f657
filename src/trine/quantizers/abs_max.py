"""Abs-max quantization to integers: symmetric per axis, and grouped with a zero point."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from trine import config


def _axes(axis, ndim):
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axis)


def abs_max_quantize(inputs, axis, value_range=(-127, 127), dtype="int8", epsilon=None,
                     to_numpy=False):
    """Quantize symmetrically: `scale = high / (max|x| + epsilon)` along `axis`.

    Args:
        inputs: the float tensor.
        axis: the axis (or axes) reduced to find each slice's maximum.
        value_range: `(low, high)` of the integer range.
        dtype: the dtype of the quantized values.
        epsilon: added to the maximum (default `trine.config.epsilon()`).
        to_numpy: compute on the host with NumPy (keeps device memory free).

    Returns:
        `(quantized, scale)`; `quantized / scale` approximates `inputs`, and `scale` keeps
        the reduced axes with size 1.
    """
    epsilon = config.epsilon() if epsilon is None else epsilon
    xp = np if to_numpy else jnp
    x = np.asarray(inputs) if to_numpy else jnp.asarray(inputs)
    float_dtype = x.dtype
    axes = _axes(axis, x.ndim)
    scale = xp.divide(value_range[1], xp.max(xp.abs(x), axis=axes, keepdims=True) + epsilon)
    scale = scale.astype(float_dtype)
    quantized = xp.clip(xp.round(x * scale), value_range[0], value_range[1]).astype(dtype)
    return jnp.asarray(quantized), jnp.asarray(scale, dtype=float_dtype)


def grouped_zero_point_parameters(x, bits, group_size, epsilon=0.0):
    """Per-row, per-group asymmetric `(scale, zero)` of a 2D `x` of shape (rows, columns),
    groups of `group_size` columns, signed integer range of `bits` bits.

    Returns:
        `(scale, zero)`, each of shape (rows, groups); `zero` as int8.
    """
    rows, columns = x.shape
    groups = max(1, -(-columns // group_size))
    if groups > 1:
        x = jnp.pad(x, ((0, 0), (0, groups * group_size - columns)))
    x = jnp.reshape(x, (rows, groups, -1))
    low, high = jnp.min(x, axis=2), jnp.max(x, axis=2)
    flat = low == high  # a constant group gets a unit-wide range
    low, high = jnp.where(flat, low - 1, low), jnp.where(flat, high + 1, high)
    levels = jnp.asarray(2 ** bits - 1, x.dtype)
    scale = (high - low + epsilon) / levels if epsilon > 0 else (high - low) / levels
    scale = jnp.where(scale <= 0, 1e-8, scale)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    zero = jnp.clip(jnp.round(-low / scale) + qmin, qmin, qmax)
    return scale, zero.astype("int8")


def abs_max_quantize_grouped_with_zero_point(inputs, block_size, value_range=(-8, 7),
                                             dtype="int8", epsilon=None, to_numpy=False):
    """Quantize a 2D `(input_dim, output_dim)` tensor asymmetrically in groups of
    `block_size` rows: `q = round(x / scale) + zero_point`, clipped to `value_range`.

    Args:
        inputs: the float tensor `(input_dim, output_dim)`.
        block_size: rows per group along axis 0.
        value_range: `(low, high)` of the integer range; its width fixes the bit count.
        dtype: the dtype of the quantized values.
        epsilon: added to each group's range (default `trine.config.epsilon()`).
        to_numpy: compute on the host with NumPy. As in Keras the two paths differ slightly:
            the host one takes each group's range over the zero-padded rows, the device one
            widens a constant group's range to 2.

    Returns:
        `(quantized, scale, zero_point)`; `scale` and `zero_point` (int8) have shape
        `(ceil(input_dim / block_size), output_dim)`.
    """
    epsilon = config.epsilon() if epsilon is None else epsilon
    if to_numpy:
        return _grouped_on_host(np.asarray(inputs), block_size, value_range, dtype, epsilon)
    x = jnp.asarray(inputs)
    input_dim, output_dim = x.shape
    qmin, qmax = value_range
    bits = int(math.log2(qmax - qmin + 1))
    scale_t, zero_t = grouped_zero_point_parameters(x.T, bits, block_size, epsilon)
    scale, zero = scale_t.T.astype(x.dtype), zero_t.T
    groups = -(-input_dim // block_size)
    padded = jnp.pad(x, ((0, groups * block_size - input_dim), (0, 0)))
    padded = jnp.reshape(padded, (groups, block_size, output_dim))
    q = jnp.round(padded / scale[:, None, :]) + zero[:, None, :].astype(x.dtype)
    q = jnp.clip(q, qmin, qmax).astype(dtype)
    return jnp.reshape(q, (groups * block_size, output_dim))[:input_dim], scale, zero


def _grouped_on_host(x, block_size, value_range, dtype, epsilon):
    input_dim, output_dim = x.shape
    qmin, qmax = value_range
    groups = -(-input_dim // block_size)
    padded = np.concatenate([x, np.zeros((groups * block_size - input_dim, output_dim), x.dtype)])
    padded = padded.reshape(groups, block_size, output_dim)
    low = padded.min(axis=1, keepdims=True)
    scale = (padded.max(axis=1, keepdims=True) - low + epsilon) / (qmax - qmin)
    zero = np.clip(np.round(-low / scale) + qmin, qmin, qmax)
    q = np.clip(np.round(padded / scale) + zero, qmin, qmax).astype(dtype)
    q = q.reshape(groups * block_size, output_dim)[:input_dim]
    return (jnp.asarray(q), jnp.asarray(scale[:, 0], dtype=x.dtype),
            jnp.asarray(zero[:, 0].astype("int8")))


def dequantize_grouped(quantized, scale, zero, group_index, group_axis=-1):
    """`(quantized - zero) * scale`, with each position's group read from `group_index`
    (one group number per position of the other axis of `scale`)."""
    groups = jnp.asarray(group_index).astype(jnp.int32)
    scales = jnp.take(scale, groups, axis=group_axis)
    zeros = jnp.take(zero, groups, axis=group_axis).astype(scales.dtype)
    return (jnp.asarray(quantized) - zeros) * scales
