"""Core and control-flow operations (Keras's `keras.ops.core` group): conversion, casts,
loops, scans, scatter and slicing."""
from __future__ import annotations

import builtins as _bi
import functools

import jax
import jax.numpy as jnp
import numpy as _np

from trine.ops._dispatch import _op, _unwrap, _unwrap_tree


__all__ = [
    "convert_to_tensor", "convert_to_numpy", "cast", "shape", "dtype", "is_tensor",
    "saturate_cast", "stop_gradient", "cond", "switch", "while_loop", "fori_loop", "scan",
    "map", "vectorized_map", "associative_scan", "custom_gradient", "jvp", "slice",
    "slice_update", "scatter", "scatter_update", "get_item", "unstack"]


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` as a JAX array (of `dtype` if given); sparse and ragged tensors do not exist here."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: trine has no sparse or ragged tensors; received "
                         f"sparse={sparse!r}, ragged={ragged!r}.")
    return jnp.asarray(_unwrap(x), dtype=dtype)


def convert_to_numpy(x):
    return _np.asarray(_unwrap(x))


@_op
def cast(x, dtype):
    return jnp.asarray(x).astype(dtype)


def shape(x):
    return tuple(_unwrap(x).shape)


def dtype(x):
    """The dtype of `x` as a string, e.g. "float32"."""
    x = _unwrap(x)
    d = getattr(x, "dtype", None)
    if d is None:
        d = jnp.asarray(x).dtype
    return jnp.dtype(d).name


def is_tensor(x):
    """Whether `x` is a JAX array (NumPy arrays, Variables and symbolic tensors are not)."""
    return isinstance(x, jax.Array)


@_op
def saturate_cast(x, dtype):
    """Cast to `dtype`, first clipping `x` to the range that `dtype` can hold."""
    x = jnp.asarray(x)
    out = jax.dtypes.canonicalize_dtype(dtype)   # int64 is int32 without jax_enable_x64

    def limits(dt):
        if dt == _np.bool_:
            return 0, 1
        info = jnp.iinfo(dt) if jnp.issubdtype(dt, jnp.integer) else jnp.finfo(dt)
        return info.min, info.max

    (in_lo, in_hi), (out_lo, out_hi) = limits(x.dtype), limits(out)
    # the bounds in the input's dtype, moved toward 0 when rounding pushed them outside
    lo = _np.asarray(_bi.max(in_lo, out_lo)).astype(x.dtype)
    if lo < out_lo:
        lo = _np.nextafter(lo, _np.zeros((), x.dtype))
    hi = _np.asarray(_bi.min(in_hi, out_hi)).astype(x.dtype)
    if hi > out_hi:
        hi = _np.nextafter(hi, _np.zeros((), x.dtype))
    return jnp.clip(x, lo, hi).astype(out)


@_op
def stop_gradient(variable):
    """`variable`'s value, with no gradient flowing back through it."""
    return jax.lax.stop_gradient(variable)


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()`, traceable (`jax.lax.cond`)."""
    return jax.lax.cond(_unwrap(pred), true_fn, false_fn)


def switch(index, branches, *operands):
    """`branches[index](*operands)`, with `index` clamped into range (`jax.lax.switch`)."""
    return jax.lax.switch(_unwrap(index), branches, *_unwrap_tree(operands))


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`, at most
    `maximum_iterations` times when given.

    A tuple or list of loop variables is unpacked into `cond` and `body` (which returns the
    same structure); a single variable is passed as is. Returns the final loop variables.
    """
    is_seq = isinstance(loop_vars, (list, tuple))
    state = _unwrap_tree(tuple(loop_vars) if is_seq else (loop_vars,))

    def step(s):
        out = body(*s)
        return tuple(out) if is_seq else (out,)

    if maximum_iterations is None:
        out = jax.lax.while_loop(lambda s: cond(*s), step, state)
    else:
        limit = _unwrap(maximum_iterations)
        out, _ = jax.lax.while_loop(
            lambda c: jnp.logical_and(cond(*c[0]), c[1] < limit),
            lambda c: (step(c[0]), c[1] + 1), (state, jnp.zeros((), jnp.int32)))
    return out if is_seq else out[0]


def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for `i` in `[lower, upper)`; returns the final `val`."""
    return jax.lax.fori_loop(_unwrap(lower), _unwrap(upper), body_fun, _unwrap_tree(init_val))


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop `carry, y = f(carry, x)` over the leading axis of `xs`; returns
    `(final_carry, stacked_ys)` (`jax.lax.scan`)."""
    if not isinstance(unroll, _bi.bool) and (
            not isinstance(unroll, (int, _np.integer)) or unroll < 1):
        raise ValueError("scan: argument `unroll` must be a positive integer or a boolean, "
                         f"received unroll={unroll!r}.")
    return jax.lax.scan(f, _unwrap_tree(init), _unwrap_tree(xs), length=length,
                        reverse=reverse, unroll=unroll)


def map(f, xs):
    """`f` applied to each slice of `xs` along its leading axis, stacked (`jax.lax.map`)."""
    return jax.lax.map(f, _unwrap_tree(xs))


def vectorized_map(function, elements):
    """`function` vectorized over the leading axis of `elements` (`jax.vmap`)."""
    return jax.vmap(function)(_unwrap_tree(elements))


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive scan of `elems` along `axis` with the associative binary `f`."""
    return jax.lax.associative_scan(f, _unwrap_tree(elems), reverse=reverse, axis=axis)


def custom_gradient(f):
    """Decorator giving `f` its own gradient.

    `f(*args)` returns `(output, grad_fn)`, where `grad_fn(upstream)` returns the gradient
    for each argument (one value for a one-argument `f`). Keras's portable spelling
    `def grad_fn(*args, upstream=None)` works: on JAX, `upstream` arrives positionally.
    """
    g = jax.custom_gradient(f)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        args, kwargs = _unwrap_tree((args, kwargs))
        return g(*args, **kwargs)
    return wrapper


def jvp(fun, primals, tangents, has_aux=False):
    """Forward-mode derivative: `(fun(*primals), J @ tangents)` (`jax.jvp`)."""
    return jax.jvp(fun, _unwrap_tree(tuple(primals)), _unwrap_tree(tuple(tangents)),
                   has_aux=has_aux)


@_op
def slice(inputs, start_indices, shape):
    """The block of `inputs` of size `shape` starting at `start_indices` (a size of -1 takes
    the rest of that axis); the start may be a traced value."""
    inputs = jnp.asarray(inputs)
    if len(start_indices) != inputs.ndim or len(shape) != inputs.ndim:
        raise ValueError(
            f"slice: `start_indices` and `shape` need one entry per axis of `inputs` "
            f"(rank {inputs.ndim}), received start_indices={start_indices!r}, shape={shape!r}.")
    sizes = tuple(int(inputs.shape[i] - start_indices[i]) if s == -1 else int(s)
                  for i, s in enumerate(shape))
    return jax.lax.dynamic_slice(inputs, tuple(start_indices), sizes)


@_op
def slice_update(inputs, start_indices, updates):
    """`inputs` with the block at `start_indices` replaced by `updates`."""
    return jax.lax.dynamic_update_slice(jnp.asarray(inputs), jnp.asarray(updates),
                                        tuple(start_indices))


def _index_tuple(indices):
    indices = jnp.asarray(indices)
    return tuple(jnp.moveaxis(indices, -1, 0))


@_op
def scatter(indices, values, shape):
    """Zeros of `shape` with `values` added at `indices` (`(..., rank)` index vectors)."""
    values = jnp.asarray(values)
    return jnp.zeros(tuple(shape), values.dtype).at[_index_tuple(indices)].add(values)


_SCATTER = {None: "set", "add": "add", "max": "max", "min": "min", "mul": "multiply"}


@_op
def scatter_update(inputs, indices, updates, reduction=None):
    """`inputs` with `updates` written (or combined with `reduction`: "add", "max", "min",
    "mul") at `indices` (`(n, rank)` index vectors)."""
    if reduction not in _SCATTER:
        raise ValueError("scatter_update: argument `reduction` must be one of None, 'add', "
                         f"'max', 'min', 'mul', received reduction={reduction!r}.")
    ref = jnp.asarray(inputs).at[_index_tuple(indices)]
    return getattr(ref, _SCATTER[reduction])(updates)


@_op
def get_item(x, key):
    """`x[key]`."""
    if isinstance(key, list):
        key = tuple(key)
    return jnp.asarray(x)[key]


@_op
def unstack(x, num=None, axis=0):
    """The slices of `x` along `axis`, as a list."""
    x = jnp.asarray(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: num={num} does not match the size {x.shape[axis]} of axis "
                         f"{axis} of x (shape {tuple(x.shape)}).")
    return [jax.lax.index_in_dim(x, i, axis, keepdims=False) for i in range(x.shape[axis])]
