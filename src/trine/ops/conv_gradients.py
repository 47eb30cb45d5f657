"""A channels-last convolution's two gradients, each written as one convolution in the layout
XLA's CPU backend runs as a library call (batch-spatial-feature input, spatial-in-out kernel).

JAX's own transposes of a convolution keep the forward's operands and swap their roles in the
dimension numbers (the kernel gradient reads the input as feature-major, the input gradient
the kernel as out-in). XLA's CPU backend rewrites those with layout transposes outside loops,
but inside a loop body it runs them on a generic slow path: a W5 training step fused in a
4-step loop took 42 s instead of 2.7 s (bench/README.md, "Convolution gradients in the
runtime's layout"). Written out here, both gradients run at library speed everywhere, and the
input gradient is faster outside loops too.

`input_term` and `kernel_term` are the tangent terms of `y = conv(x, kernel)` for a custom
JVP rule: each is the linear transpose of the explicit gradient, so reverse mode (JAX's
transpose of the tangent) runs exactly `input_gradient` and `kernel_gradient`, and forward
mode still works.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.ops.cpu_dilated import dilated_input_conv, runs_as_library_call


def _specs(rank):
    spatial = "DHW"[3 - rank:]
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


def channels_last_conv(lhs, rhs, strides, pads, lhs_dilation=None, rhs_dilation=None):
    """`conv_general_dilated` of a channels-last `lhs` with a spatial-in-out `rhs`."""
    return jax.lax.conv_general_dilated(
        lhs, rhs, window_strides=strides, padding=pads, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=_specs(lhs.ndim - 2))


def input_gradient_padding(g_shape, kernel_shape, x_shape, strides, pads, dilation):
    """The `(before, after)` padding, per spatial axis, of the cotangent `g_shape` dilated by
    the strides, so that an unstrided pass of the flipped kernel over it gives the input's
    gradient `x_shape` back."""
    full = []
    for axis in range(len(g_shape) - 2):
        n, k, s, d = x_shape[1 + axis], kernel_shape[axis], strides[axis], dilation[axis]
        extent = (k - 1) * d + 1
        before = extent - 1 - pads[axis][0]
        dilated = (g_shape[1 + axis] - 1) * s + 1
        # the input length back: before + dilated + after - extent + 1 == n
        full.append((before, n + extent - 1 - before - dilated))
    return full


def input_gradient(g, kernel, x_shape, strides, pads, dilation):
    """The gradient with respect to the input `(batch, *spatial, in)` of `conv(x, kernel)`
    given the output's cotangent `g`: `g`, dilated by the strides, convolved with the
    spatially flipped kernel whose in and out axes are swapped."""
    rank = g.ndim - 2
    flipped = jnp.flip(kernel, tuple(range(rank))).swapaxes(-1, -2)
    full = input_gradient_padding(g.shape, kernel.shape, x_shape, strides, pads, dilation)
    if runs_as_library_call(rank, strides):
        return channels_last_conv(g, flipped, (1,) * rank, full, strides, dilation)
    ones, unpadded = (1,) * rank, ((0, 0),) * rank
    return dilated_input_conv(g, flipped, tuple(strides), full, tuple(dilation),
                              lambda gp, k: channels_last_conv(gp, k, ones, unpadded))


def kernel_gradient(x, g, kernel_shape, strides, pads, dilation):
    """The gradient with respect to the kernel `(*spatial, in, out)` of `conv(x, kernel)`:
    the padded input with its batch as features and its channels as the batch, convolved
    with the cotangent read as a kernel (batch in, channels out)."""
    rank = x.ndim - 2
    lhs = jnp.moveaxis(x, (0, rank + 1), (rank + 1, 0))    # (in, *spatial, batch)
    rhs = jnp.moveaxis(g, 0, rank)                          # (*out_spatial, batch, out)
    # kernel positions step by the dilation over the padded input; cotangent taps by the
    # stride; a longer padded input than the taps reach gives extra positions, cut off below
    out = channels_last_conv(lhs, rhs, dilation, list(pads), None, strides)
    out = out[(slice(None), *(slice(0, k) for k in kernel_shape[:rank]))]
    return jnp.moveaxis(out, 0, rank)                       # (*kernel, in, out)


def through_transpose(gradient, y_shape, tangent):
    """`tangent` mapped by the transpose of the linear map `gradient` (cotangent of the
    output `y_shape` -> `tangent`'s space): the forward term whose transpose is `gradient`."""
    transpose = jax.linear_transpose(gradient, jax.ShapeDtypeStruct(y_shape, tangent.dtype))
    return transpose(tangent)[0]


def input_term(dx, kernel, y_shape, strides, pads, dilation):
    """`conv(dx, kernel)`, as the transpose of `input_gradient` (so its own transpose is
    `input_gradient`)."""
    return through_transpose(
        lambda g: input_gradient(g, kernel, dx.shape, strides, pads, dilation), y_shape, dx)


def kernel_term(x, dk, y_shape, strides, pads, dilation):
    """`conv(x, dk)`, as the transpose of `kernel_gradient` (so its own transpose is
    `kernel_gradient`)."""
    return through_transpose(
        lambda g: kernel_gradient(x, g, dk.shape, strides, pads, dilation), y_shape, dk)
