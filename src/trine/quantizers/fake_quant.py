"""Fake quantization: round to a `num_bits` grid inside `[min, max]` and back to floats."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _nudged_range(low, high, num_bits, narrow_range):
    """The grid's `(min, max, step, 1/step)` with the zero point moved onto an integer."""
    dtype = jnp.result_type(low.dtype, jnp.float32)
    low, high = low.astype(dtype), high.astype(dtype)
    qmax = (1 << num_bits) - 1
    qmin = 1 if narrow_range else 0
    step = (high - low) / (qmax - qmin)
    inv_step = (qmax - qmin) / (high - low)  # computed directly: 1/step loses precision
    zero = jnp.round(jnp.clip(qmin - low / step, qmin, qmax))
    return (qmin - zero) * step, (qmax - zero) * step, step, inv_step


def fake_quant_with_min_max_vars(inputs, min_vals, max_vals, num_bits=8, narrow_range=False,
                                 axis=None):
    """Quantize `inputs` onto `2**num_bits` levels spanning `[min_vals, max_vals]` and
    return the dequantized floats (TensorFlow's `fake_quant_with_min_max_vars`).

    Args:
        inputs: a float tensor.
        min_vals / max_vals: scalars (per tensor) or one value per channel of `axis`.
        num_bits: bit width (default 8).
        narrow_range: use levels `[1, 2**num_bits - 1]` instead of `[0, 2**num_bits - 1]`.
        axis: the channel axis for per-channel ranges, or None for one range.

    Returns:
        A tensor like `inputs`. Gradients pass straight through inside the range and reach
        `min_vals` / `max_vals` from the clipped values below / above it.
    """
    x = jnp.asarray(inputs)
    low, high = jnp.asarray(min_vals), jnp.asarray(max_vals)
    num_bits = int(num_bits)
    if axis is not None:
        axis = axis % x.ndim
    reduce_axes = None if axis is None else tuple(i for i in range(x.ndim) if i != axis)

    @jax.custom_vjp
    def fake_quant(x, low, high):
        return forward(x, low, high)[0]

    def forward(x, low, high):
        nmin, nmax, step, inv_step = _nudged_range(low, high, num_bits, narrow_range)
        quant_zero = jnp.floor(-nmin * inv_step + 0.5)
        shifted = jnp.clip(x.astype(nmin.dtype), nmin, nmax) - nmin
        out = jnp.floor(shifted * inv_step - quant_zero + 0.5) * step
        return out.astype(x.dtype), (x, low, high, nmin, nmax)

    def backward(saved, upstream):
        x, low, high, nmin, nmax = saved
        zero = jnp.zeros_like(upstream)
        dx = jnp.where((x >= nmin) & (x <= nmax), upstream, zero)
        dlow = jnp.sum(jnp.where(x <= nmin, upstream, zero), axis=reduce_axes)
        dhigh = jnp.sum(jnp.where(x >= nmax, upstream, zero), axis=reduce_axes)
        return (dx, jnp.reshape(dlow, low.shape).astype(low.dtype),
                jnp.reshape(dhigh, high.shape).astype(high.dtype))

    fake_quant.defvjp(forward, backward)
    return fake_quant(x, low, high)
