"""Max pooling's gradient on the CPU without XLA's select-and-scatter, chosen when traced.

XLA's CPU backend lowers the gradient of `reduce_window(max)` to `select_and_scatter`, which
it runs as a generic scatter: a 2x2 max-pool of 26x26x32 (W3, batch 128) took 49 ms for a
gradient whose forward pass takes 1.3 ms, ResNet50's 3x3 stride-2 stem pool 449 ms. Both
forms below route each window's gradient to its first maximal element in row-major window
order, the rule of select-and-scatter, so gradients are bit-identical; GPU and TPU programs
keep XLA's (`config.on_accelerator`, as `cpu_paths` chooses).
"""
from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from trine import config


def _reduce_window_max(x, window, strides, pads):
    # a NumPy init value stays concrete under jit, so JAX uses its differentiable max-pool
    init = np.array(-np.inf, x.dtype)
    return jax.lax.reduce_window(x, init, jax.lax.max, window, strides, pads)


def _tiled_view(x, y, window, pads):
    """The (lo, hi) edges that pad `x` with -inf and crop it to whole windows; that view's
    shape `(o1, w1, o2, w2, ...)`; its window axes; and the first-maximum mask of each window
    in it (row-major window order, the rule of XLA's select-and-scatter)."""
    edges = [(lo, y_n * w - n - lo) for n, w, y_n, (lo, _) in zip(x.shape, window, y.shape, pads)]
    xp = jax.lax.pad(x, np.array(-np.inf, x.dtype), [(lo, hi, 0) for lo, hi in edges])
    tiled = [d for o, w in zip(y.shape, window) for d in (o, w)]
    expand = [d for o in y.shape for d in (o, 1)]
    xr = xp.reshape(tiled)
    size = math.prod(window)
    order = np.arange(size, dtype=np.int32).reshape([d for w in window for d in (1, w)])
    axes = tuple(range(1, 2 * len(window), 2))
    first = jnp.min(jnp.where(xr == y.reshape(expand), order, size), axis=axes, keepdims=True)
    return edges, tiled, axes, order == first


# A custom JVP (forward-mode autodiff keeps working): the tangent of each window's maximum
# is the tangent of its first maximal element. Its transpose, JAX's reverse mode, copies
# each window's cotangent to that element: a masked copy in a reshaped view instead of the
# scatter XLA's CPU backend makes of select-and-scatter; the same routing, so gradients
# are bit-identical.
@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _max_pool_tiled(x, window, pads):
    return _reduce_window_max(x, window, window, pads)


@_max_pool_tiled.defjvp
def _max_pool_tiled_jvp(window, pads, primals, tangents):
    (x,), (dx,) = primals, tangents
    y = _reduce_window_max(x, window, window, pads)
    edges, tiled, axes, mask = _tiled_view(x, y, window, pads)
    dxp = jax.lax.pad(dx, np.array(0, dx.dtype), [(lo, hi, 0) for lo, hi in edges])
    dy = jnp.sum(jnp.where(mask, dxp.reshape(tiled), jnp.zeros((), dx.dtype)), axis=axes)
    return y, dy.reshape(y.shape)


def _window_slices(xp, window, strides, out):
    """Every window position's strided slice of the padded `xp`, in row-major window order:
    slice `p` holds element `p` of each output position's window."""
    for offsets in itertools.product(*(range(w) for w in window)):
        limits = [o + (n - 1) * s + 1 for o, n, s in zip(offsets, out, strides)]
        yield jax.lax.slice(xp, offsets, limits, strides)


def _route_to_first_max(first, dx, window, strides, pads):
    """Each output position's tangent: `dx` at its window's first maximal element (`first`,
    the window position)."""
    dxp = jax.lax.pad(dx, np.array(0, dx.dtype), [(lo, hi, 0) for lo, hi in pads])
    zero = jnp.zeros((), dx.dtype)
    return functools.reduce(jnp.add, (
        jnp.where(first == p, part, zero)
        for p, part in enumerate(_window_slices(dxp, window, strides, first.shape))))


# Overlapping windows (ResNet's and Xception's 3x3 stride-2 pools): XLA's CPU backend runs
# the select-and-scatter of reduce_window's gradient as a generic scatter (ResNet50's stem
# pool, 32x112x112x64: 449 ms against 92 ms this way, 721 vs 100 MiB of temporaries). The
# tangent is `dx` at each window's first maximal element, found among the window's strided
# slices: the rule of select-and-scatter, so gradients are bit-identical. Only that position
# (int8) is kept for reverse mode; `jax.checkpoint` recomputes the masks from it, and JAX's
# transpose of the strided slices is a sum of pads XLA fuses into one pass. Inference keeps
# XLA's reduce_window.
@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _max_pool_overlapping(x, window, strides, pads):
    return _reduce_window_max(x, window, strides, pads)


@_max_pool_overlapping.defjvp
def _max_pool_overlapping_jvp(window, strides, pads, primals, tangents):
    (x,), (dx,) = primals, tangents
    xp = jax.lax.pad(x, np.array(-np.inf, x.dtype), [(lo, hi, 0) for lo, hi in pads])
    out = tuple((n + lo + hi - w) // s + 1
                for n, w, s, (lo, hi) in zip(x.shape, window, strides, pads))
    parts = list(_window_slices(xp, window, strides, out))
    y = functools.reduce(jnp.maximum, parts)
    first = jnp.full(out, len(parts), jnp.int8 if len(parts) < 128 else jnp.int32)
    for p in range(len(parts) - 1, -1, -1):
        first = jnp.where(parts[p] == y, first.dtype.type(p), first)
    route = jax.checkpoint(functools.partial(
        _route_to_first_max, window=window, strides=strides, pads=pads))
    return y, route(first, dx)


def max_pool(x, window, strides, padding):
    """`reduce_window(max)` of a floating-point `x`; on CPU, its gradient without XLA's
    select-and-scatter: non-overlapping windows as a masked copy, overlapping ones through
    their strided slices. `window`/`strides` have one entry per axis of `x`; `padding` is
    "VALID" or "SAME"."""
    pads = tuple(tuple(p) for p in jax.lax.padtype_to_pads(x.shape, window, strides, padding))
    if config.on_accelerator():
        return _reduce_window_max(x, window, strides, pads)
    if tuple(window) == tuple(strides):
        return _max_pool_tiled(x, tuple(window), pads)
    return _max_pool_overlapping(x, tuple(window), tuple(strides), pads)
