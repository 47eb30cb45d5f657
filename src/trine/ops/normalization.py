"""Normalization maths shared by `trine.ops` and the normalization layers, as pure functions
jitted with their hyperparameters static: an eager call runs one compiled program instead of
one per operation, and inside a jitted step they inline."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def statistics_dtype(x):
    """Statistics are computed in at least float32 (as Keras, for half-precision inputs)."""
    return jnp.result_type(x.dtype, jnp.float32)


def affine(x, mean, var, gamma, beta, epsilon):
    """`(x - mean) * rsqrt(var + epsilon) * gamma + beta`, folded as Keras does it."""
    inv = jax.lax.rsqrt(var + epsilon)
    if gamma is not None:
        inv = inv * gamma
    res = -mean * inv
    if beta is not None:
        res = res + beta
    return x * inv + res


@functools.partial(jax.jit, static_argnames=("axes",))
def masked_moments(x, mask, axes):
    """Mean and variance over `axes` (of the unmasked entries when a mask is given)."""
    x = x.astype(statistics_dtype(x))
    if mask is None:
        return jnp.mean(x, axis=axes), jnp.var(x, axis=axes)
    m = jnp.broadcast_to(jnp.expand_dims(mask.astype(bool), -1), x.shape)
    count = jnp.sum(m.astype(x.dtype), axis=axes, keepdims=True) + 1e-7
    mean = jnp.sum(jnp.where(m, x, 0), axis=axes, keepdims=True) / count
    var = jnp.sum(jnp.square(jnp.where(m, x - mean, 0)), axis=axes, keepdims=True) / count
    return jnp.squeeze(mean, axes), jnp.squeeze(var, axes)


@jax.jit
def moving_average(moving, value, momentum):
    return (moving * momentum + value.astype(moving.dtype) * (1.0 - momentum)).astype(
        moving.dtype)


@functools.partial(jax.jit, static_argnames=("axis", "epsilon"))
def batch_norm(x, mean, var, gamma, beta, axis, epsilon):
    dtype = statistics_dtype(x)
    shape = [1] * x.ndim
    shape[axis] = mean.shape[0]

    def bc(v):
        return None if v is None else jnp.reshape(v.astype(dtype), shape)

    y = affine(x.astype(dtype), bc(mean), bc(var), bc(gamma), bc(beta), epsilon)
    return y.astype(x.dtype)


@functools.partial(jax.jit, static_argnames=("axes", "epsilon", "rms_scaling"))
def layer_norm(x, gamma, beta, axes, epsilon, rms_scaling):
    dtype = statistics_dtype(x)
    xc = x.astype(dtype)
    bshape = [1] * x.ndim
    for a in axes:
        bshape[a] = x.shape[a]

    def bc(v):
        return None if v is None else jnp.reshape(v.astype(dtype), bshape)

    return normalize_over(xc, axes, bc(gamma), bc(beta), epsilon, rms_scaling).astype(x.dtype)


def normalize_over(x, axes, gamma, beta, epsilon, rms_scaling):
    """Layer normalization of `x` over `axes`, with `gamma` / `beta` (None or broadcastable
    to `x`); shared by LayerNormalization and `trine.ops.layer_normalization`."""
    var = jnp.var(x, axis=axes, keepdims=True)
    if rms_scaling:  # Keras's deprecated flag: scales by the variance, without centering
        y = x * jax.lax.rsqrt(var + epsilon)
        return y if gamma is None else y * gamma
    return affine(x, jnp.mean(x, axis=axes, keepdims=True), var, gamma, beta, epsilon)


@functools.partial(jax.jit, static_argnames=("axis", "groups", "epsilon"))
def group_norm(x, gamma, beta, axis, groups, epsilon):
    dtype = statistics_dtype(x)
    dim = x.shape[axis]
    gshape = list(x.shape)
    gshape[axis:axis + 1] = [groups, dim // groups]
    xg = jnp.reshape(x.astype(dtype), gshape)
    red = tuple(i for i in range(1, x.ndim + 1) if i != axis)
    bshape = [1] * (x.ndim + 1)
    bshape[axis:axis + 2] = [groups, dim // groups]

    def bc(v):
        return None if v is None else jnp.reshape(v.astype(dtype), bshape)

    y = affine(xg, jnp.mean(xg, axis=red, keepdims=True), jnp.var(xg, axis=red, keepdims=True),
                bc(gamma), bc(beta), epsilon)
    return jnp.reshape(y, x.shape).astype(x.dtype)


@functools.partial(jax.jit, static_argnames=("axes",))
def unit_norm(x, axes):
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype("float32")
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axes, keepdims=True))
    return x * jnp.minimum(inv, 1e12)
