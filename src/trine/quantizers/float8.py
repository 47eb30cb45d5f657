"""Float8 scaling: delayed scales from an amax history, and quantize-dequantize."""
from __future__ import annotations

import jax.numpy as jnp
import ml_dtypes


def compute_float8_scale(amax, scale, dtype_max, margin=0):
    """The next scale (values are divided by it before the float8 cast) from the recent
    `amax`: `amax * 2**margin / dtype_max`, or `scale` kept where `amax` is zero or not
    finite (Transformer Engine's delayed scaling)."""
    amax = jnp.asarray(amax)
    kept = 1.0 / jnp.asarray(scale)
    factor = (dtype_max / amax) / (2 ** margin)
    factor = jnp.where(amax > 0.0, factor, kept)
    factor = jnp.where(jnp.isfinite(amax), factor, kept)
    return 1.0 / factor


def compute_float8_amax_history(x, amax_history):
    """`amax_history` rolled one step left with `max|x|` written into slot 0."""
    history = jnp.asarray(amax_history)
    latest = jnp.max(jnp.abs(jnp.asarray(x))).astype(history.dtype)
    return jnp.roll(history, -1).at[0].set(latest)


def quantize_and_dequantize(inputs, scale, quantized_dtype, compute_dtype):
    """`inputs / scale` clipped to `quantized_dtype`'s finite range, cast to it (the
    rounding), and multiplied back by `scale`, in `compute_dtype`."""
    limit = jnp.asarray(float(ml_dtypes.finfo(quantized_dtype).max), compute_dtype)
    scale = jnp.asarray(scale).astype(compute_dtype)
    x = jnp.clip(jnp.asarray(inputs) / scale, -limit, limit).astype(quantized_dtype)
    return x.astype(compute_dtype) * scale
