"""CPU formulations of grouped and depthwise convolutions, where XLA's are many times slower.

XLA's CPU backend has no library call for a convolution with feature groups: it runs them,
and their gradients, through a generic emitted loop. A depthwise convolution (one input
channel per group) is a sum, over the kernel's positions, of the input's window at that
position times that position's kernel row: elementwise work XLA fuses into one pass. A
convolution with several input channels per group is one ordinary convolution per group,
each on the CPU path of `cpu_paths`. On the 2-core machine of bench/ (`python
bench/conv_grouped.py`, 3x3, "same"), XLA's -> these, in ms:

    depthwise, 128x32x32x64:   forward 419 -> 31, both gradients 834 -> 109
    4 groups, 128x32x32x32:    forward 131 -> 26, both gradients 2,414 -> 67

Results agree with XLA's to float rounding (the sums run in another order).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from trine.ops.conv_gradients import input_gradient_padding, through_transpose
from trine.ops.cpu_paths import valid_out

# Above this many kernel positions the input gradient is a gather (`_input_gradient`); at or
# below, JAX's transpose of the shifted sum (a sum of pads) was faster (bench/README.md,
# 2026-12-08: 3x3 19.8 vs 37.4 ms; 5x5 8.1 vs 42.1 ms, 7x7 45.8 vs 154 ms).
GATHER_GRADIENT_POSITIONS = 9


def _window_extent(out, strides):
    """How much of the padded input one kernel position's strided window spans."""
    return tuple((o - 1) * s + 1 for o, s in zip(out, strides))


def _times_row(window, row):
    """`window (..., C)` times one kernel position's row `(C * M,)`: output channel `c * M + m`
    takes input channel `c` (the order of XLA's feature groups)."""
    c = window.shape[-1]
    m = row.shape[-1] // c
    if m == 1:
        return window * row
    return (window[..., None] * row.reshape(c, m)).reshape(window.shape[:-1] + (c * m,))


def _shifted_sum(xp, kernel, strides, dilation):
    """The depthwise convolution of the padded `xp (N, *spatial, C)` with `kernel (*K, 1, C*M)`,
    one strided window of `xp` per kernel position (XLA fuses the sum into one pass)."""
    rank = xp.ndim - 2
    k_spatial = kernel.shape[:rank]
    out = valid_out(xp.shape[1:-1], k_spatial, strides, dilation)
    extent = _window_extent(out, strides)
    total = None
    for pos in np.ndindex(*k_spatial):
        start = (0, *(p * d for p, d in zip(pos, dilation)), 0)
        limit = (xp.shape[0], *(b + e for b, e in zip(start[1:-1], extent)), xp.shape[-1])
        window = jax.lax.slice(xp, start, limit, (1, *strides, 1))
        term = _times_row(window, kernel[pos][0])
        total = term if total is None else total + term
    return total


def _kernel_term(xp, dk, strides, dilation):
    """`_shifted_sum(xp, dk)`, written as a loop over kernel positions whose body is
    recomputed when transposed: reverse mode then takes the kernel gradient one position at a
    time from `xp` (unrolled, XLA kept every position's window of the input alive at once: 49
    copies for a 7x7 kernel; and ran 2x slower)."""
    rank = xp.ndim - 2
    k_spatial = dk.shape[:rank]
    out = valid_out(xp.shape[1:-1], k_spatial, strides, dilation)
    extent = _window_extent(out, strides)
    positions = np.array(list(np.ndindex(*k_spatial)), np.int32).reshape(-1, rank)
    starts = positions * np.asarray(dilation, np.int32)
    rows = dk.reshape(positions.shape[0], dk.shape[-1])
    size = (xp.shape[0], *extent, xp.shape[-1])

    @jax.checkpoint
    def add_position(total, start_row):
        start, row = start_row
        zero = jnp.zeros((), start.dtype)
        window = jax.lax.dynamic_slice(xp, (zero, *start, zero), size)
        window = jax.lax.slice(window, (0,) * xp.ndim, size, (1, *strides, 1))
        return total + _times_row(window, row), None

    init = jnp.zeros((xp.shape[0], *out, dk.shape[-1]), jnp.result_type(xp, dk))
    return jax.lax.scan(add_position, init, (starts, rows))[0]


def _input_gradient(g, kernel, x_shape, strides, pads, dilation):
    """The input gradient of the depthwise convolution, given the output's cotangent `g`, as
    a gather: `g` dilated by the strides and padded, its windows times the spatially flipped
    kernel's rows, summed over the depth multiplier."""
    rank = g.ndim - 2
    full = input_gradient_padding(g.shape, kernel.shape, x_shape, strides, pads, dilation)
    edges = [(before, after, s - 1) for (before, after), s in zip(full, strides)]
    gp = jax.lax.pad(g, np.array(0, g.dtype), [(0, 0, 0), *edges, (0, 0, 0)])
    flipped = jnp.flip(kernel, tuple(range(rank)))
    per_output = _shifted_sum(gp, flipped, (1,) * rank, dilation)
    c = x_shape[-1]
    return per_output.reshape(per_output.shape[:-1] + (c, -1)).sum(-1)


def _input_term(dx, kernel, y_shape, strides, pads, dilation):
    """The input's tangent term: the shifted sum itself for small kernels (JAX transposes it
    into a sum of pads), else written as the transpose of `_input_gradient`, so that reverse
    mode runs the gather."""
    if math.prod(kernel.shape[:dx.ndim - 2]) <= GATHER_GRADIENT_POSITIONS:
        return _shifted_sum(_pad(dx, pads), kernel, strides, dilation)
    return through_transpose(
        lambda g: _input_gradient(g, kernel, dx.shape, strides, pads, dilation), y_shape, dx)


def _pad(x, pads):
    if not any(lo or hi for lo, hi in pads):
        return x
    return jnp.pad(x, ((0, 0), *pads, (0, 0)))


# A custom JVP (forward mode keeps working): the input's tangent term is `_input_term`, the
# kernel's `_kernel_term`.
@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _depthwise(x, kernel, strides, pads, dilation):
    return _shifted_sum(_pad(x, pads), kernel, strides, dilation)


def _depthwise_jvp(strides, pads, dilation, primals, tangents):
    x, kernel = primals
    dx, dk = tangents
    xp = _pad(x, pads)
    y = _shifted_sum(xp, kernel, strides, dilation)
    zero = jax.custom_derivatives.SymbolicZero
    terms = []
    if not isinstance(dx, zero):
        terms.append(_input_term(dx, kernel, y.shape, strides, pads, dilation))
    if not isinstance(dk, zero):
        terms.append(_kernel_term(xp, dk, strides, dilation))
    return y, sum(terms[1:], terms[0]) if terms else jnp.zeros_like(y)


_depthwise.defjvp(_depthwise_jvp, symbolic_zeros=True)


def depthwise_conv(x, kernel, strides, pads, dilation):
    """Depthwise convolution of a channels-last `x (N, *spatial, C)` with `kernel
    (*K, 1, C * M)` (feature groups = C). Half-precision inputs are summed in float32, as
    XLA's convolution accumulates them."""
    dtype = x.dtype
    wide = jnp.promote_types(dtype, jnp.float32)
    y = _depthwise(x.astype(wide), kernel.astype(wide), tuple(strides),
                   tuple(map(tuple, pads)), tuple(dilation))
    return y.astype(dtype)


def grouped_conv(x, kernel, groups, conv):
    """A channels-last convolution with `groups` feature groups of several input channels
    each, as one `conv(x_group, kernel_group)` per group, concatenated on the channels."""
    xs = jnp.split(x, groups, axis=-1)
    ks = jnp.split(kernel, groups, axis=-1)
    return jnp.concatenate([conv(a, b) for a, b in zip(xs, ks)], axis=-1)


def is_depthwise(x_channels, kernel_shape, groups):
    """Whether a convolution has one input channel per group (and more than one group)."""
    return groups > 1 and groups == x_channels and kernel_shape[-2] == 1
