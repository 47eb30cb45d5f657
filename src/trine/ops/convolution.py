"""The convolution and pooling maths shared by `trine.ops` and the convolution, pooling and
recurrent-convolution layers: argument normalisation, output lengths, the one N-d
convolution primitive and windowed pooling."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from trine import config
from trine.ops.cpu_dilated import output_lengths
from trine.ops.cpu_grouped import depthwise_conv, grouped_conv, is_depthwise
from trine.ops.cpu_paths import conv_channels_last, conv_dilated_input
from trine.ops.cpu_pooling import max_pool


def normalize_tuple(value, n: int, arg: str, layer: str, *, allow_zero: bool = False) -> tuple:
    """`value` (an int or a sequence of `n` ints) as a tuple of `n` ints.

    Raises:
        ValueError: naming `layer` and `arg` when the value is not of that form.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * n
    elif isinstance(value, (list, tuple)) and len(value) == n and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        out = tuple(int(v) for v in value)
    else:
        raise ValueError(
            f"{layer}: argument `{arg}` must be an integer or a tuple of {n} integers, "
            f"received {arg}={value!r}.")
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        what = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{layer}: every entry of `{arg}` must be {what}, received {arg}={value!r}.")
    return out


def normalize_data_format(value, layer: str) -> str:
    """`None` -> the global `trine.config.image_data_format()`; otherwise one of the two
    Keras names (case-insensitive)."""
    if value is None:
        from trine.config import image_data_format
        return image_data_format()
    if isinstance(value, str) and value.lower() in ("channels_last", "channels_first"):
        return value.lower()
    raise ValueError(
        f"{layer}: argument `data_format` must be 'channels_last' or 'channels_first', "
        f"received data_format={value!r}.")


def normalize_padding(value, layer: str, *, allow_causal: bool = False) -> str:
    """"valid" / "same" (and "causal" where allowed), case-insensitive."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    names = ", ".join(repr(a) for a in allowed)
    raise ValueError(
        f"{layer}: argument `padding` must be one of {names}, received padding={value!r}.")


def dimension_numbers(rank: int, data_format: str) -> jax.lax.ConvDimensionNumbers:
    if data_format == "channels_last":
        lhs = (0, rank + 1) + tuple(range(1, rank + 1))
    else:
        lhs = (0, 1) + tuple(range(2, rank + 2))
    rhs = (rank + 1, rank) + tuple(range(rank))  # kernel: spatial..., in, out
    return jax.lax.ConvDimensionNumbers(lhs_spec=lhs, rhs_spec=rhs, out_spec=lhs)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(low, high) padding of TensorFlow/XLA "SAME": output size ceil(size / stride)."""
    eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def convolve(x, kernel, strides, padding, dilation_rate, data_format, groups=1, lhs_dilation=None):
    """N-d cross-correlation of `x` with `kernel` (the one place convolutions happen).

    Args:
        x: input, `(batch, *spatial, channels)` or `(batch, channels, *spatial)`.
        kernel: `spatial_kernel + (in_channels // groups, out_channels)`.
        strides: one int per spatial axis.
        padding: "valid", "same", or one `(low, high)` pair per spatial axis.
        dilation_rate: kernel dilation, one int per spatial axis.
        data_format: "channels_last" or "channels_first".
        groups: number of channel groups (`feature_group_count`).
        lhs_dilation: input dilation (for transposed convolutions), or None.

    Returns:
        The convolution, in the layout of `x`.
    """
    rank = x.ndim - 2
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * rank
        else:
            sizes = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
            pads = [same_padding(n, k, s, d) for n, k, s, d in
                    zip(sizes, kernel.shape[:rank], strides, dilation_rate)]
    else:
        pads = [tuple(p) for p in padding]
    # as Keras: the inputs take the kernel's dtype (integer inputs become float)
    x = x.astype(kernel.dtype)

    def xla_conv(x, kernel):
        return jax.lax.conv_general_dilated(
            x, kernel, window_strides=tuple(strides), padding=pads,
            lhs_dilation=None if lhs_dilation is None else tuple(lhs_dilation),
            rhs_dilation=tuple(dilation_rate),
            dimension_numbers=dimension_numbers(rank, data_format),
            feature_group_count=groups)

    if config.on_accelerator():
        return xla_conv(x, kernel)
    if data_format == "channels_first":
        # XLA's CPU backend runs channels-first convolutions on a generic path in loop bodies
        # (a 16x16x16 predict 12x slower fused 8 steps to a call); channels-last ones are
        # library calls there, and take the CPU paths below
        y = convolve(jnp.moveaxis(x, 1, -1), kernel, strides, pads, dilation_rate,
                     "channels_last", groups, lhs_dilation)
        return jnp.moveaxis(y, -1, 1)
    strides, pads, dilation = tuple(strides), tuple(map(tuple, pads)), tuple(dilation_rate)
    if lhs_dilation is not None and any(s != 1 for s in lhs_dilation):
        lhs_dilation = tuple(lhs_dilation)
        if groups > 1 or strides != (1,) * rank or min(output_lengths(
                x.shape, kernel.shape, lhs_dilation, pads, dilation)) <= 0:
            return xla_conv(x, kernel)
        # a transposed convolution: library-layout gradients, and no generic 3-D loop
        return conv_dilated_input(x, kernel, lhs_dilation, pads, dilation)
    if is_depthwise(x.shape[-1], kernel.shape, groups):
        return depthwise_conv(x, kernel, strides, pads, dilation)
    if groups > 1:
        return grouped_conv(x, kernel, groups, lambda xg, kg: convolve(
            xg, kg, strides, pads, dilation, "channels_last"))
    # patches and one matrix product where they pay (see ops.cpu_paths for why)
    return conv_channels_last(x, kernel, strides, pads, dilation, xla_conv)


def conv_output_length(size, kernel, stride, padding, dilation):
    if size is None:
        return None
    if padding == "valid":
        return (size - (kernel - 1) * dilation - 1) // stride + 1
    return (size - 1) // stride + 1


def transpose_output_length(size, kernel, stride, padding, output_padding, dilation):
    if size is None:
        return None
    eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        op = max(eff, stride) - eff if output_padding is None else output_padding
        return (size - 1) * stride + eff + op
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + eff % 2 + output_padding


def transpose_padding(kernel, stride, padding, output_padding, dilation):
    """(low, high) padding of the dilated-input convolution equal to Keras's transpose."""
    eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        op = max(eff, stride) - eff if output_padding is None else output_padding
        return eff - 1, eff - 1 + op
    total = stride + eff - 2 if output_padding is None else eff + eff % 2 - 2 + output_padding
    low = min(total // 2 + total % 2, eff - 1)
    return low, total - low


def _window(rank, data_format, values):
    """Per-axis window/stride tuple for an input of rank `rank + 2`."""
    if data_format == "channels_last":
        return (1,) + tuple(values) + (1,)
    return (1, 1) + tuple(values)


def pool(inputs, mode, pool_size, strides, padding, data_format):
    """Max ("max") or average ("average") of each `pool_size` window of `inputs`
    `(batch, spatial..., channels)` (or channels first); `padding` "valid" or "same" (averages
    exclude the padding)."""
    rank = inputs.ndim - 2
    window = _window(rank, data_format, pool_size)
    strides = _window(rank, data_format, strides)
    pad = padding.upper()
    if mode == "max":
        if jnp.issubdtype(inputs.dtype, jnp.floating):
            return max_pool(inputs, window, strides, pad)
        # a NumPy init value stays concrete under jit
        init = np.array(jnp.iinfo(inputs.dtype).min, inputs.dtype)
        return jax.lax.reduce_window(inputs, init, jax.lax.max, window, strides, pad)
    x = inputs
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype("float32")
    zero = np.array(0, x.dtype)
    summed = jax.lax.reduce_window(x, zero, jax.lax.add, window, strides, pad)
    if padding == "valid":
        return summed / math.prod(pool_size)
    # "same": divide by the count of real values in each window (padding excluded)
    ones_shape = tuple(d if w != 1 else 1 for d, w in zip(x.shape, window))
    counts = jax.lax.reduce_window(jnp.ones(ones_shape, x.dtype), zero, jax.lax.add, window,
                                   strides, pad)
    return summed / counts
