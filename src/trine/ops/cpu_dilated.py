"""An input-dilated convolution (a transposed convolution's forward pass, a strided
convolution's input gradient) as one unstrided convolution of the undilated input followed
by a depth-to-space shuffle, for XLA's CPU backend.

XLA's CPU runtime runs 1-D and 2-D convolutions with `lhs_dilation` as library calls, but a
3-D one through a generic emitted loop: a `Conv3DTranspose` of 128x12x8x12x2 (2x2x2 kernel,
stride 2) took 212 ms where this form takes 2.2 ms, and the input gradient of a strided 3x3x3
`Conv3D` 290 ms against its 5 ms forward pass (bench/README.md, "Input-dilated convolutions").

The maths, per spatial axis with stride `s`: output position `o = s * q + r` only meets the
kernel taps `p` for which `o + p * dilation - pad_low` lands on an input sample (a multiple of
`s`); for each phase `r` those taps are every `s / gcd(s, dilation)`-th one from a first tap,
and they read the input from `q + offset(r)` on. Laying every phase's taps into one kernel
over the union of their windows, with the phases as extra output channels, gives a single
unstrided convolution whose output `(batch, *q, *phases, out)` interleaves into
`(batch, *(q * s + r), out)`.
"""
from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np


def _axis_phases(size, kernel, stride, dilation, pads):
    """Output length along one axis and, per phase `r` in `range(stride)`, the taps that meet
    input samples: `(first_tap, tap_step, count, input_offset, offset_step)`, or None."""
    low, high = pads
    length = (size - 1) * stride + 1 + low + high - (kernel - 1) * dilation
    step = stride // math.gcd(dilation, stride)
    phases = []
    for r in range(stride):
        first = next((p for p in range(min(kernel, step))
                      if (r + p * dilation - low) % stride == 0), None)
        if first is None:
            phases.append(None)
            continue
        count = len(range(first, kernel, step))
        offset = (r + first * dilation - low) // stride
        phases.append((first, step, count, offset, dilation * step // stride))
    return length, phases


def output_lengths(x_shape, kernel_shape, lhs_dilation, pads, dilation):
    """Spatial output lengths of the input-dilated convolution."""
    return tuple(_axis_phases(n, k, s, d, p)[0] for n, k, s, d, p in zip(
        x_shape[1:-1], kernel_shape, lhs_dilation, dilation, pads))


def dilated_input_conv(x, kernel, lhs_dilation, pads, dilation, conv):
    """`conv_general_dilated(x, kernel, 1, pads, lhs_dilation, dilation)` of a channels-last
    `x` and a spatial-in-out `kernel`, computed as `conv(xp, shuffle_kernel)` (an unpadded,
    unstrided, undilated convolution the caller supplies) and a depth-to-space shuffle."""
    rank = x.ndim - 2
    axes = [_axis_phases(n, k, s, d, p) for n, k, s, d, p in zip(
        x.shape[1:-1], kernel.shape[:rank], lhs_dilation, dilation, pads)]
    lengths = [length for length, _ in axes]
    rows = [-(-length // s) for length, s in zip(lengths, lhs_dilation)]
    # per axis, the union of every phase's input window: its first offset and width
    starts, widths = [], []
    for _, phases in axes:
        live = [p for p in phases if p is not None]
        start = min(offset for _, _, _, offset, _ in live)
        end = max(offset + (count - 1) * step for _, _, count, offset, step in live)
        starts.append(start)
        widths.append(end - start + 1)
    c_in, c_out = kernel.shape[-2:]
    blocks = []
    for combo in itertools.product(*(range(s) for s in lhs_dilation)):
        phase = [axes[a][1][r] for a, r in enumerate(combo)]
        block = jnp.zeros((*widths, c_in, c_out), kernel.dtype)
        if all(p is not None for p in phase):
            taps = kernel[tuple(slice(first, None, step) for first, step, _, _, _ in phase)]
            where = tuple(slice(offset - start, offset - start + (count - 1) * o_step + 1, o_step)
                          for (_, _, count, offset, o_step), start in zip(phase, starts))
            block = block.at[where].set(taps)
        blocks.append(block)
    shuffle_kernel = jnp.stack(blocks, axis=-2).reshape(*widths, c_in, len(blocks) * c_out)
    # crop or zero-pad the input to exactly the window every output row reads
    edges = [(-start, start + r + w - 1 - n, 0) for start, r, w, n in zip(
        starts, rows, widths, x.shape[1:-1])]
    xp = jax.lax.pad(x, np.array(0, x.dtype), [(0, 0, 0), *edges, (0, 0, 0)])
    y = conv(xp, shuffle_kernel)
    y = y.reshape(x.shape[0], *rows, *lhs_dilation, c_out)
    order = [0, *itertools.chain.from_iterable((1 + a, 1 + rank + a) for a in range(rank)),
             1 + 2 * rank]
    y = y.transpose(order).reshape(x.shape[0], *(r * s for r, s in zip(rows, lhs_dilation)),
                                   c_out)
    if any(r * s != length for r, s, length in zip(rows, lhs_dilation, lengths)):
        y = y[(slice(None), *(slice(0, length) for length in lengths))]
    return y


def runs_as_library_call(rank, lhs_dilation):
    """Whether XLA's CPU runtime runs this input-dilated convolution as a library call (ranks
    1 and 2, or no dilation at all), so the shuffle form is not needed."""
    return rank < 3 or all(s == 1 for s in lhs_dilation)
