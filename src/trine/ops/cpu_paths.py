"""Faster CPU formulations of convolution, chosen by backend when traced (max pooling's are
in `cpu_pooling`).

XLA's CPU backend lowers `conv_general_dilated` and its transposes to Eigen's spatial
convolutions. On the 2-core machine of bench/ (W3, batch 128) that costs, per training step:

    conv 32->64 3x3 on 13x13: forward 22 ms, kernel gradient 44 ms, input gradient 13 ms

The same arithmetic as a gather of patches followed by one matrix product runs at XLA's
matmul rate (forward 11 ms, kernel gradient from the saved patches 11 ms; bench/README.md
has W3 with and without these paths).

Where patches do not pay (padded or strided convolutions with large patch matrices), the
forward pass is XLA's convolution and the kernel gradient is computed per chunk of the
batch: W5's ran 1.6-3x faster that way (bench/README.md). Both gradients are written in the
layout XLA's CPU runtime runs as a library call (`conv_gradients`), so steps holding them
can be fused in a loop.

The path is chosen when the program is traced, by the backend JAX runs on
(`config.on_accelerator`, in `convolution.convolve`, as the recurrent cells choose theirs):
the CPU's programs use these paths, a GPU's or TPU's keep XLA's own convolution (cuDNN is
fast there). Either
choice computes the same maths, so a program traced for one backend and run on another is
still right. (`jax.lax.platform_dependent` put both choices in every program and made JAX
trace, differentiate and lower both: W5's training step traced 2.4x slower.)

The convolution's sums run in another order than XLA's, so results agree with XLA's
convolution to float rounding. Input-dilated (transposed) convolutions are at the end
(`conv_dilated_input`, the shuffle form of `cpu_dilated`).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from trine.ops.conv_gradients import channels_last_conv, input_term, kernel_term
from trine.ops.cpu_dilated import dilated_input_conv, runs_as_library_call

# A patch matrix above this size (bytes) is not worth its memory: XLA's convolution is used.
MAX_PATCH_BYTES = 128 * 2 ** 20
# Above this size patches measured slower than XLA's convolution for padded or strided
# convolutions in training (bench/conv_shapes.py).
SMALL_PATCH_BYTES = 2 ** 20


def valid_out(spatial, kernel, strides, dilation):
    """Output lengths of an unpadded ("valid") convolution."""
    return tuple((n - (k - 1) * d - 1) // s + 1
                 for n, k, s, d in zip(spatial, kernel, strides, dilation))


@functools.lru_cache(maxsize=256)
def _patch_index(spatial, kernel, strides, dilation):
    """Flat input positions of every (output position, kernel position) pair, row-major.

    `spatial` is the (already padded) input's spatial shape; returns the int32 index of shape
    `(prod(out) * prod(kernel),)` and the output's spatial shape.
    """
    out = valid_out(spatial, kernel, strides, dilation)
    rank = len(spatial)
    flat = np.zeros(out + kernel, np.int64)
    step = 1
    for axis in range(rank - 1, -1, -1):
        # input position along `axis` of (output position, kernel position), placed on the
        # axes `axis` and `rank + axis` of the (out..., kernel...) grid
        pos = (np.arange(out[axis])[:, None] * strides[axis]
               + np.arange(kernel[axis])[None, :] * dilation[axis])
        shape = [1] * (2 * rank)
        shape[axis], shape[rank + axis] = out[axis], kernel[axis]
        flat = flat + (pos * step).reshape(shape)
        step *= spatial[axis]
    index = flat.reshape(-1).astype(np.int32)
    index.setflags(write=False)
    return index, out


def _patches(x, kernel_spatial, strides, dilation):
    """`(batch, *out, prod(kernel) * channels)` patches of a channels-last input."""
    n, c = x.shape[0], x.shape[-1]
    spatial = tuple(x.shape[1:-1])
    index, out = _patch_index(spatial, tuple(kernel_spatial), tuple(strides), tuple(dilation))
    flat = x.reshape(n, math.prod(spatial), c)
    # mode="clip": every index is in range by construction, and clipping skips the bounds
    # handling XLA adds for the default mode
    taken = jnp.take(flat, index, axis=1, mode="clip")
    return taken.reshape((n,) + out + (math.prod(kernel_spatial) * c,))


def _xla_conv(x, kernel, strides, pads, dilation):
    return channels_last_conv(x, kernel, strides, pads, rhs_dilation=dilation)


def _patch_matmul(patches, kernel):
    k2 = kernel.reshape(-1, kernel.shape[-1])
    y = patches.reshape(-1, k2.shape[0]) @ k2
    return y.reshape(patches.shape[:-1] + (k2.shape[1],))


def _padded_patches(x, kernel_spatial, strides, pads, dilation):
    if any(lo or hi for lo, hi in pads):
        x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    return _patches(x, kernel_spatial, strides, dilation)


# A custom JVP rather than a custom VJP, so forward-mode autodiff (jvp, jacfwd, hessian)
# works. The primal rule runs only where nothing is differentiated (predict, evaluate):
# there XLA's convolution won at every shape measured, small batches included, and a
# gather in the program also stops XLA's CPU backend from fusing the convolutions around
# it (W5's forward pass: 93 -> 79 ms, Keras 81 ms; bench/README.md).
# Reverse mode is JAX's transpose of the tangent below: the kernel term's transpose is
# patches^T @ g on the patches saved from the forward pass; the input term's is one
# convolution in the CPU runtime's layout (`conv_gradients.input_gradient`; the transpose
# of the gather would be a slow scatter-add). Symbolic zeros skip an input that needs no
# gradient (a model's first convolution), which would otherwise convolve zeros every step.
@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _conv_patches(x, kernel, strides, pads, dilation):
    return _xla_conv(x, kernel, strides, pads, dilation)


def _conv_patches_jvp(strides, pads, dilation, primals, tangents):
    x, kernel = primals
    dx, dk = tangents
    rank = x.ndim - 2
    patches = _padded_patches(x, kernel.shape[:rank], strides, pads, dilation)
    y = _patch_matmul(patches, kernel)
    zero = jax.custom_derivatives.SymbolicZero
    terms = []
    if not isinstance(dx, zero):
        terms.append(input_term(dx, kernel, y.shape, strides, pads, dilation))
    if not isinstance(dk, zero):
        terms.append(_patch_matmul(patches, dk))
    return y, sum(terms[1:], terms[0]) if terms else jnp.zeros_like(y)


_conv_patches.defjvp(_conv_patches_jvp, symbolic_zeros=True)


def uses_patches(x_shape, kernel_shape, strides, pads, dilation, itemsize=4):
    """Whether the CPU program computes this convolution's gradients from patches, where
    they measured faster than XLA's (bench/README.md, "CPU convolution per shape"):
    unpadded, unstrided convolutions whose patch matrix stays under `MAX_PATCH_BYTES`, and
    padded or strided ones only while it stays under `SMALL_PATCH_BYTES`."""
    rank = len(x_shape) - 2
    kernel_spatial = tuple(kernel_shape[:rank])
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[1:-1], pads))
    out = valid_out(padded, kernel_spatial, strides, dilation)
    if min(out) <= 0:
        return False
    patch_bytes = x_shape[0] * math.prod(out) * math.prod(kernel_shape[:-1]) * itemsize
    padding = any(lo or hi for lo, hi in pads)
    if (padding or strides != (1,) * rank) and patch_bytes > SMALL_PATCH_BYTES:
        return False
    pointwise = math.prod(kernel_spatial) == 1 and strides == (1,) * rank and not padding
    # 1x1 kernels XLA already runs as a matrix product
    return patch_bytes <= MAX_PATCH_BYTES and not pointwise


# XLA's CPU kernel gradient of a convolution ran 1.6-3x faster per chunk of about this many
# input bytes than on a whole batch of 128 (bench/README.md, "Convolution kernel gradients
# by batch chunks").
GRAD_CHUNK_BYTES = 2 ** 20


def _grad_chunk_rows(x_shape, itemsize):
    """Batch rows per chunk of the CPU kernel gradient, or 0 where the batch is one chunk."""
    rows = max(1, GRAD_CHUNK_BYTES // (math.prod(x_shape[1:]) * itemsize))
    return rows if x_shape[0] > rows else 0


# Forward and input gradient: one convolution of the whole batch (chunking them did not
# pay), the input gradient in the CPU runtime's layout (`conv_gradients`). The kernel term
# of the tangent is written per batch chunk, so its transpose (the kernel gradient, in that
# layout too) runs chunk by chunk and sums the parts; each chunk is a convolution more
# to compile (W5: 1.6 -> 2.9 s), paid back within an epoch. A custom JVP, not a VJP, so
# forward-mode autodiff still works; symbolic zeros skip an input that needs no gradient (a
# model's first convolution).
@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4, 5))
def _conv_chunked_grad(x, kernel, strides, pads, dilation, rows):
    return _xla_conv(x, kernel, strides, pads, dilation)


def _conv_chunked_grad_jvp(strides, pads, dilation, rows, primals, tangents):
    x, kernel = primals
    dx, dk = tangents
    y = _xla_conv(x, kernel, strides, pads, dilation)
    zero = jax.custom_derivatives.SymbolicZero
    if isinstance(dx, zero) and isinstance(dk, zero):
        return y, jnp.zeros_like(y)
    out = None
    if not isinstance(dx, zero):
        out = input_term(dx, kernel, y.shape, strides, pads, dilation)
    if not isinstance(dk, zero):
        # split, not slices: the transpose of a split is one concatenate, of a slice a pad
        chunks = jnp.split(x, list(range(rows, x.shape[0], rows)))
        term = jnp.concatenate([
            kernel_term(c, dk, (c.shape[0],) + y.shape[1:], strides, pads, dilation)
            for c in chunks])
        out = term if out is None else out + term
    return y, out


_conv_chunked_grad.defjvp(_conv_chunked_grad_jvp, symbolic_zeros=True)


def _pointwise(kernel_shape, strides, pads):
    """A 1x1 kernel with no padding (MobileNet's expansions and projections, a ResNet's
    bottlenecks and projection shortcuts), strided or not."""
    rank = len(strides)
    return math.prod(kernel_shape[:rank]) == 1 and not any(lo or hi for lo, hi in pads)


def _pick(x, strides):
    """The pixels a (strided) 1x1 kernel lands on."""
    if all(s == 1 for s in strides):
        return x
    return jax.lax.slice(x, (0,) * x.ndim, x.shape, (1, *strides, 1))


# Differentiated, a 1x1 convolution is the (strided) pixels times the kernel: matrix
# products. XLA's CPU convolution took the kernel gradient as a convolution with the whole
# image as its window (MobileNetV2's 96->16 projection at 112x112: 205 ms a step for 1.2
# GFLOP), and of a strided one from a transpose of the whole, unstrided input (W5's stage-2
# shortcut: 19.5 ms a step). Inference keeps XLA's convolution (the slice would split
# XLA's fusion of the convolutions around it: W5 predict 0.34 -> 0.39 s).
@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _conv_pointwise(x, kernel, strides):
    rank = x.ndim - 2
    return _xla_conv(x, kernel, strides, ((0, 0),) * rank, (1,) * rank)


def _conv_pointwise_jvp(strides, primals, tangents):
    x, kernel = primals
    dx, dk = tangents
    picked = _pick(x, strides)
    y = _patch_matmul(picked, kernel)
    zero = jax.custom_derivatives.SymbolicZero
    terms = []
    if not isinstance(dx, zero):
        terms.append(_patch_matmul(_pick(dx, strides), kernel))
    if not isinstance(dk, zero):
        terms.append(_patch_matmul(picked, dk))
    return y, sum(terms[1:], terms[0]) if terms else jnp.zeros_like(y)


_conv_pointwise.defjvp(_conv_pointwise_jvp, symbolic_zeros=True)


def conv_channels_last(x, kernel, strides, pads, dilation, xla_conv):
    """The CPU's convolution of a channels-last `x` (groups=1; `convolve` keeps XLA's on
    other platforms): an unpadded 1x1 kernel as a (strided) slice and a matrix product when
    differentiated, patches where they pay (`uses_patches`), else XLA's convolution with
    both gradients in the CPU runtime's layout, the kernel gradient by batch chunks;
    `xla_conv` for 1x1 kernels given explicit padding (rare: "same" pads a 1x1 kernel by
    nothing).

    `strides`/`dilation` are tuples and `pads` is one `(low, high)` pair per spatial axis
    (hashable: they key the cached patch index); `xla_conv(x, kernel)` is the caller's
    XLA convolution of the unpadded input.
    """
    itemsize = jnp.dtype(kernel.dtype).itemsize
    if _pointwise(kernel.shape, strides, pads):
        return _conv_pointwise(x, kernel, strides)
    if uses_patches(x.shape, kernel.shape, strides, pads, dilation, itemsize):
        return _conv_patches(x, kernel, strides, pads, dilation)
    if math.prod(kernel.shape[:-2]) == 1:
        return xla_conv(x, kernel)
    rows = _grad_chunk_rows(x.shape, itemsize) or x.shape[0]
    return _conv_chunked_grad(x, kernel, strides, pads, dilation, rows)


# ------------------------------------------------------------- input-dilated convolutions
def _unit_conv(x, kernel):
    """An unpadded, unstrided, undilated channels-last convolution on the CPU paths above."""
    ones, unpadded = (1,) * (x.ndim - 2), ((0, 0),) * (x.ndim - 2)
    return conv_channels_last(x, kernel, ones, unpadded, ones,
                              lambda a, b: channels_last_conv(a, b, ones, unpadded))


def _shuffled(x, kernel, lhs_dilation, pads, dilation):
    return dilated_input_conv(x, kernel, lhs_dilation, pads, dilation, _unit_conv)


# Where XLA's CPU runtime runs the input-dilated convolution as a library call (1-D and 2-D)
# and both channel counts reach `FEW_CHANNELS`, inference keeps it: at most such shapes it
# ran up to 2x faster than the shuffle form (16x16x64 -> 32, 4x4: 11.8 vs 23.5 ms; not at
# 32x32x32 -> 32: 69 vs 22 ms), and with fewer channels 2-4x slower (32x32x16 -> 8: 37.7 vs
# 9.1 ms; bench/README.md). Its derivatives are those of the shuffle form,
# whose convolutions' gradients are in the runtime's layout: JAX's own transposes of XLA's
# form ran 10-40x slower than the forward pass, and one step per call.
FEW_CHANNELS = 32


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _dilated_library_primal(x, kernel, lhs_dilation, pads, dilation):
    return channels_last_conv(x, kernel, (1,) * (x.ndim - 2), pads, lhs_dilation, dilation)


def _dilated_library_primal_jvp(lhs_dilation, pads, dilation, primals, tangents):
    x, kernel = primals
    dx, dk = tangents
    zero = jax.custom_derivatives.SymbolicZero
    if isinstance(dx, zero) and isinstance(dk, zero):
        y = _dilated_library_primal(x, kernel, lhs_dilation, pads, dilation)
        return y, jnp.zeros_like(y)
    if isinstance(dx, zero):
        return jax.jvp(lambda k: _shuffled(x, k, lhs_dilation, pads, dilation), (kernel,), (dk,))
    if isinstance(dk, zero):
        return jax.jvp(lambda v: _shuffled(v, kernel, lhs_dilation, pads, dilation), (x,), (dx,))
    return jax.jvp(lambda v, k: _shuffled(v, k, lhs_dilation, pads, dilation),
                   (x, kernel), (dx, dk))


_dilated_library_primal.defjvp(_dilated_library_primal_jvp, symbolic_zeros=True)


def conv_dilated_input(x, kernel, lhs_dilation, pads, dilation):
    """The CPU's unstrided convolution of a channels-last `x` dilated by `lhs_dilation` (a
    transposed convolution): the shuffle form of `cpu_dilated`, except where XLA's CPU
    runtime has a fast library call for it (1-D and 2-D, many channels): there XLA's
    convolution, differentiated as the shuffle form.
    Tuples throughout; `pads` one `(low, high)` pair per spatial axis."""
    if runs_as_library_call(x.ndim - 2, lhs_dilation) and min(kernel.shape[-2:]) >= FEW_CHANNELS:
        return _dilated_library_primal(x, kernel, lhs_dilation, pads, dilation)
    return _shuffled(x, kernel, lhs_dilation, pads, dilation)
