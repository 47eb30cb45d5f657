"""Spatial neural-network operations (Keras's `keras.ops.nn` group): depth/space
rearrangements, convolutions and pooling, on the maths of `trine.ops.convolution`."""
from __future__ import annotations

import builtins as _bi

import jax.numpy as jnp

from trine.ops import convolution as _convolution
from trine.ops._dispatch import _check_int, _op


__all__ = [
    "depth_to_space", "space_to_depth", "conv", "depthwise_conv", "separable_conv",
    "conv_transpose", "max_pool", "average_pool"]


def _block_check(x, block_size, data_format, op):
    x = jnp.asarray(x)
    df = _convolution.normalize_data_format(data_format, f"ops.{op}")
    bs = _check_int(block_size, "block_size", op, minimum=1)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4D input, received shape {tuple(x.shape)}.")
    return x, bs, df


@_op
def depth_to_space(x, block_size, data_format="channels_last"):
    """Move channel blocks into `block_size x block_size` spatial patches (pixel shuffle)."""
    x, bs, df = _block_check(x, block_size, data_format, "depth_to_space")
    if df == "channels_last":
        n, h, w, c = x.shape
        if c % (bs * bs):
            raise ValueError(f"depth_to_space: channels ({c}) must be divisible by "
                             f"block_size**2 ({bs * bs}).")
        x = x.reshape(n, h, w, bs, bs, c // (bs * bs)).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h * bs, w * bs, c // (bs * bs))
    n, c, h, w = x.shape
    if c % (bs * bs):
        raise ValueError(f"depth_to_space: channels ({c}) must be divisible by "
                         f"block_size**2 ({bs * bs}).")
    x = x.reshape(n, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // (bs * bs), h * bs, w * bs)


@_op
def space_to_depth(x, block_size, data_format="channels_last"):
    """Move `block_size x block_size` spatial patches into channels (inverse of
    `depth_to_space`)."""
    x, bs, df = _block_check(x, block_size, data_format, "space_to_depth")
    if df == "channels_last":
        n, h, w, c = x.shape
        if h % bs or w % bs:
            raise ValueError(f"space_to_depth: height and width ({h}, {w}) must be divisible "
                             f"by block_size ({bs}).")
        x = x.reshape(n, h // bs, bs, w // bs, bs, c).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h // bs, w // bs, c * bs * bs)
    n, c, h, w = x.shape
    if h % bs or w % bs:
        raise ValueError(f"space_to_depth: height and width ({h}, {w}) must be divisible by "
                         f"block_size ({bs}).")
    x = x.reshape(n, c, h // bs, bs, w // bs, bs).transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * bs * bs, h // bs, w // bs)


# ---------------------------------------------------------------- convolution and pooling
def _conv_args(op, x, kernel_rank, strides, padding, data_format, dilation_rate):
    """Validated `(rank, strides, padding, data_format, dilation)` of a convolution op."""
    who = f"ops.{op}"
    rank = x.ndim - 2
    if rank < 1:
        raise ValueError(f"{who}: expected inputs of rank >= 3 (batch, spatial..., channels), "
                         f"received shape {tuple(x.shape)}.")
    if kernel_rank != rank + 2:
        raise ValueError(f"{who}: expected a kernel of rank {rank + 2} for inputs of rank "
                         f"{x.ndim}, received a kernel of rank {kernel_rank}.")
    return (rank, _convolution.normalize_tuple(strides, rank, "strides", who),
            _convolution.normalize_padding(padding, who), _convolution.normalize_data_format(data_format, who),
            _convolution.normalize_tuple(dilation_rate, rank, "dilation_rate", who))


def _channels(x, df):
    return x.shape[-1] if df == "channels_last" else x.shape[1]


def _spatial(x, df):
    return x.shape[1:-1] if df == "channels_last" else x.shape[2:]


def _check_output(op, x, kernel_spatial, strides, padding, dilation, df):
    out = [_convolution.conv_output_length(n, k, s, padding, d) for n, k, s, d in
           zip(_spatial(x, df), kernel_spatial, strides, dilation)]
    if _bi.any(o <= 0 for o in out):
        raise ValueError(
            f"{op}: inputs of shape {tuple(x.shape)} are too small for a kernel of spatial size "
            f"{tuple(kernel_spatial)} with strides={strides}, dilation_rate={dilation} and "
            f"padding={padding!r}; the output would be empty.")


@_op
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-d convolution; `kernel` is `spatial... + (in_channels // groups, out_channels)`
    (grouped when the input has a multiple of the kernel's input channels)."""
    x, k = jnp.asarray(inputs), jnp.asarray(kernel)
    rank, strides, padding, df, dil = _conv_args("conv", x, k.ndim, strides, padding,
                                                 data_format, dilation_rate)
    ch, kin = _channels(x, df), k.shape[-2]
    if ch % kin:
        raise ValueError(f"conv: the input channels ({ch}) must be a multiple of the kernel's "
                         f"input channels ({kin}); received kernel shape {tuple(k.shape)}.")
    _check_output("conv", x, k.shape[:rank], strides, padding, dil, df)
    return _convolution.convolve(x, k, strides, padding, dil, df, groups=ch // kin)


def _depthwise(op, x, k, strides, padding, df, dil):
    rank = x.ndim - 2
    ch = _channels(x, df)
    if k.shape[-2] != ch:
        raise ValueError(f"{op}: the kernel's input channels ({k.shape[-2]}) must equal the "
                         f"input's channels ({ch}); received kernel shape {tuple(k.shape)}.")
    _check_output(op, x, k.shape[:rank], strides, padding, dil, df)
    k = jnp.reshape(k, k.shape[:-2] + (1, ch * k.shape[-1]))
    return _convolution.convolve(x, k, strides, padding, dil, df, groups=ch)


@_op
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Depthwise convolution: each input channel convolved with its own filters; `kernel`
    is `spatial... + (in_channels, depth_multiplier)`."""
    x, k = jnp.asarray(inputs), jnp.asarray(kernel)
    _, strides, padding, df, dil = _conv_args("depthwise_conv", x, k.ndim, strides, padding,
                                              data_format, dilation_rate)
    return _depthwise("depthwise_conv", x, k, strides, padding, df, dil)


@_op
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """Depthwise convolution followed by a 1x1 (pointwise) convolution."""
    x, dk, pk = jnp.asarray(inputs), jnp.asarray(depthwise_kernel), jnp.asarray(pointwise_kernel)
    rank, strides, padding, df, dil = _conv_args("separable_conv", x, dk.ndim, strides,
                                                 padding, data_format, dilation_rate)
    y = _depthwise("separable_conv", x, dk, strides, padding, df, dil)
    if pk.ndim != rank + 2 or pk.shape[-2] != _channels(y, df):
        raise ValueError(f"separable_conv: expected a pointwise kernel of shape "
                         f"{(1,) * rank + (_channels(y, df), 'filters')}, received "
                         f"{tuple(pk.shape)}.")
    return _convolution.convolve(y, pk, (1,) * rank, "valid", (1,) * rank, df)


@_op
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """Transposed convolution (the gradient of `conv`); `kernel` is
    `spatial... + (out_channels, in_channels)`."""
    x, k = jnp.asarray(inputs), jnp.asarray(kernel)
    rank, strides, padding, df, dil = _conv_args("conv_transpose", x, k.ndim, strides,
                                                 padding, data_format, dilation_rate)
    if k.shape[-1] != _channels(x, df):
        raise ValueError(f"conv_transpose: the kernel's last axis ({k.shape[-1]}) must equal "
                         f"the input's channels ({_channels(x, df)}); received kernel shape "
                         f"{tuple(k.shape)}.")
    if output_padding is None:
        ops_ = (None,) * rank
    else:
        ops_ = _convolution.normalize_tuple(output_padding, rank, "output_padding", "ops.conv_transpose",
                               allow_zero=True)
    pads = [_convolution.transpose_padding(ks, s, padding, op, d)
            for ks, s, op, d in zip(k.shape[:rank], strides, ops_, dil)]
    # the convolution of the stride-dilated input with the flipped, in/out-swapped kernel
    k = jnp.swapaxes(jnp.flip(k, axis=tuple(range(rank))), -1, -2)
    return _convolution.convolve(x, k, (1,) * rank, pads, dil, df, lhs_dilation=strides)


def _pool(op, mode, inputs, pool_size, strides, padding, data_format):
    who = f"ops.{op}"
    x = jnp.asarray(inputs)
    rank = x.ndim - 2
    if rank < 1:
        raise ValueError(f"{who}: expected inputs of rank >= 3 (batch, spatial..., channels), "
                         f"received shape {tuple(x.shape)}.")
    pool_size = _convolution.normalize_tuple(pool_size, rank, "pool_size", who)
    strides = _convolution.normalize_tuple(pool_size if strides is None else strides, rank, "strides", who)
    padding = _convolution.normalize_padding(padding, who)
    data_format = _convolution.normalize_data_format(data_format, who)
    if padding == "valid" and _bi.any(
            n < p for n, p in zip(_spatial(x, data_format), pool_size)):
        raise ValueError(f"{op}: inputs of shape {tuple(x.shape)} are smaller than "
                         f"pool_size={pool_size} with padding='valid'.")
    return _convolution.pool(x, mode, pool_size, strides, padding, data_format)


@_op
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over windows of `pool_size` (strides default to the pool size)."""
    return _pool("max_pool", "max", inputs, pool_size, strides, padding, data_format)


@_op
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over windows of `pool_size`; with "same" padding, each window's mean
    is over its real (unpadded) entries."""
    return _pool("average_pool", "average", inputs, pool_size, strides, padding, data_format)
