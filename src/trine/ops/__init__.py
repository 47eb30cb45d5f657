"""Array operations for layer code (Keras `keras.ops`), on jax.numpy.

Every function of `jax.numpy` is available under its own name, plus `jax.nn`'s activations
and the Keras operations written out below (control flow, indexing, nn, linalg, fft, ...),
with Keras's argument names, order and defaults. Arguments that are trine Variables are
read as their values, so `ops.matmul(x, self.kernel)` works inside `call` as in Keras; an
array op called on symbolic tensors (a Functional graph being built) becomes a graph node
that is saved by the op's name.

The Keras sub-namespaces exist too: `ops.numpy`, `ops.nn`, `ops.linalg`, `ops.math`,
`ops.core` and `ops.image` (e.g. `ops.nn.relu`, `from trine.ops.linalg import qr`).
"""
from __future__ import annotations

import builtins as _bi
import functools
import inspect
import sys
import types

import jax
import jax.numpy as jnp
import numpy as _np

from trine.core.symbolic import any_symbolic, record_op
from trine.core.variable import Variable
from trine.ops import convolution as _convolution
from trine.ops import normalization as _normalization

# NB: this module defines (or lazily caches) `sum`, `max`, `min`, `abs`, `round`, `all`,
# `any`, `pow`, `divmod`, `bool`, `slice` and `map`: inside it, the Python builtins of those
# names are spelled `_bi.<name>`.

_NN = {"relu", "relu6", "sigmoid", "softmax", "log_softmax", "softplus", "silu", "swish",
       "gelu", "elu", "selu", "log_sigmoid", "hard_sigmoid", "celu", "glu", "standardize",
       "hard_tanh"}


def _unwrap(x):
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(e) for e in x)
    return x


def _unwrap_tree(tree):
    """`tree` with every trine Variable replaced by its value (for the control-flow ops)."""
    return jax.tree_util.tree_map(lambda v: v.value if isinstance(v, Variable) else v, tree,
                                  is_leaf=lambda v: isinstance(v, Variable))


def _symbolic_kwargs_as_args(fn, op_name, args, kwargs):
    """Move symbolic tensors passed by keyword into the positional arguments.

    OpLayer records its positional arguments as graph inputs and saves its keyword arguments
    as config, so a tensor given as `gamma=t` must travel positionally.
    """
    sym = [k for k, v in kwargs.items() if any_symbolic(v)]
    if not sym:
        return args, kwargs
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params]
    if _bi.any(k not in names for k in sym):
        raise TypeError(
            f"ops.{op_name}: symbolic tensors can only be passed to parameters that also "
            f"accept positional values; received them for {sorted(sym)}. Pass them "
            "positionally.")
    last = _bi.max(names.index(k) for k in sym)
    args, kwargs = list(args), dict(kwargs)
    for p in params[len(args):last + 1]:
        if p.name in kwargs:
            args.append(kwargs.pop(p.name))
        elif p.default is not p.empty:
            args.append(p.default)
        else:
            raise TypeError(f"ops.{op_name}: missing required argument {p.name!r}.")
    return tuple(args), kwargs


def _listify_axes(kwargs):
    # a graph saved to JSON gives tuple-valued axes back as lists; jax wants tuples
    for k in ("axis", "axes"):
        if isinstance(kwargs.get(k), list):
            kwargs[k] = tuple(kwargs[k])
    return kwargs


def _wrap(fn, name=None):
    op_name = name or fn.__name__

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        if any_symbolic((args, kwargs)):
            # On symbolic tensors (a Functional graph being built) the op becomes a node
            # of the graph, as keras.ops does; its name is saved, never code.
            args, kwargs = _symbolic_kwargs_as_args(fn, op_name, args, kwargs)
            return record_op(f"ops.{op_name}", args, kwargs)
        kwargs = _listify_axes({k: _unwrap(v) for k, v in kwargs.items()})
        return fn(*[_unwrap(a) for a in args], **kwargs)
    return inner


def _op(fn):
    """Decorator: an array op under its own name (Variables read, symbolic-aware)."""
    return _wrap(fn, fn.__name__)


def _axes(axis):
    """An axis argument as jax wants it: None, an int, or a tuple of ints."""
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _float(x):
    """`x` as an array, integer and boolean inputs promoted to float32."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.float32)
    return x


def _check_int(value, name, op, minimum=None):
    if isinstance(value, _bi.bool) or not isinstance(value, (int, _np.integer)) or (
            minimum is not None and value < minimum):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise ValueError(f"{op}: argument `{name}` must be {what}, received {name}={value!r}.")
    return int(value)


# ============================================================================ core
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


# ============================================================================ numpy
# Keras's argument order differs from jax.numpy's for these (e.g. `keepdims` is the third
# positional argument of `sum`, where jax.numpy has `dtype`); they are written out.
def _reduction(jfn, name, doc):
    def fn(x, axis=None, keepdims=False):
        return jfn(x, axis=_axes(axis), keepdims=keepdims)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return _op(fn)


sum = _reduction(jnp.sum, "sum", "Sum over `axis` (all axes when None).")
mean = _reduction(jnp.mean, "mean", "Mean over `axis`.")
amax = _reduction(jnp.amax, "amax", "Maximum over `axis`.")
amin = _reduction(jnp.amin, "amin", "Minimum over `axis`.")
any = _reduction(jnp.any, "any", "Whether any entry is true over `axis`.")
all = _reduction(jnp.all, "all", "Whether all entries are true over `axis`.")
std = _reduction(jnp.std, "std", "Standard deviation over `axis`.")
var = _reduction(jnp.var, "var", "Variance over `axis`.")
median = _reduction(jnp.median, "median", "Median over `axis`.")
argmax = _reduction(jnp.argmax, "argmax", "Index of the maximum along `axis`.")
argmin = _reduction(jnp.argmin, "argmin", "Index of the minimum along `axis`.")
ptp = _reduction(jnp.ptp, "ptp", "Range (max - min) over `axis`.")
nansum = _reduction(jnp.nansum, "nansum", "Sum over `axis`, NaNs ignored.")
nanmean = _reduction(jnp.nanmean, "nanmean", "Mean over `axis`, NaNs ignored.")
nanmax = _reduction(jnp.nanmax, "nanmax", "Maximum over `axis`, NaNs ignored.")
nanmin = _reduction(jnp.nanmin, "nanmin", "Minimum over `axis`, NaNs ignored.")
nanprod = _reduction(jnp.nanprod, "nanprod", "Product over `axis`, NaNs ignored.")
nanstd = _reduction(jnp.nanstd, "nanstd", "Standard deviation over `axis`, NaNs ignored.")
nanvar = _reduction(jnp.nanvar, "nanvar", "Variance over `axis`, NaNs ignored.")
nanmedian = _reduction(jnp.nanmedian, "nanmedian", "Median over `axis`, NaNs ignored.")
nanargmax = _reduction(jnp.nanargmax, "nanargmax", "Index of the maximum, NaNs ignored.")
nanargmin = _reduction(jnp.nanargmin, "nanargmin", "Index of the minimum, NaNs ignored.")


@_op
def max(x, axis=None, keepdims=False, initial=None):
    """Maximum over `axis`; `initial` is the value for empty reductions."""
    return jnp.max(x, axis=_axes(axis), keepdims=keepdims, initial=initial)


@_op
def min(x, axis=None, keepdims=False, initial=None):
    """Minimum over `axis`; `initial` is the value for empty reductions."""
    return jnp.min(x, axis=_axes(axis), keepdims=keepdims, initial=initial)


@_op
def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over `axis`."""
    return jnp.prod(x, axis=_axes(axis), keepdims=keepdims, dtype=dtype)


@_op
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th quantiles (q in [0, 1]) over `axis`."""
    return jnp.quantile(x, q, axis=_axes(axis), method=method, keepdims=keepdims)


@_op
def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th percentiles (q in [0, 100]) over `axis`."""
    return jnp.percentile(x, q, axis=_axes(axis), method=method, keepdims=keepdims)


@_op
def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th quantiles (q in [0, 1]) over `axis`, NaNs ignored."""
    return jnp.nanquantile(x, q, axis=_axes(axis), method=method, keepdims=keepdims)


@_op
def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th percentiles (q in [0, 100]) over `axis`, NaNs ignored."""
    return jnp.nanpercentile(x, q, axis=_axes(axis), method=method, keepdims=keepdims)


@_op
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,
           axis=None, size=None, fill_value=None):
    """The distinct values of `x` (and, as asked, their first indices, the inverse map and
    their counts); `size` gives a fixed output length for use under jit."""
    return jnp.unique(x, return_index=return_index, return_inverse=return_inverse,
                      return_counts=return_counts, axis=axis, size=size, fill_value=fill_value,
                      sorted=sorted)


@_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """`x` padded by `pad_width` with `mode` ("constant": `constant_values`, default 0)."""
    if constant_values is None:
        return jnp.pad(x, pad_width, mode=mode)
    if mode != "constant":
        raise ValueError(f"pad: constant_values only applies to mode='constant', received "
                         f"mode={mode!r} and constant_values={constant_values!r}.")
    return jnp.pad(x, pad_width, mode=mode, constant_values=constant_values)


@_op
def reshape(x, newshape):
    """`x` with shape `newshape` (one entry may be -1)."""
    return jnp.reshape(x, tuple(newshape) if isinstance(newshape, list) else newshape)


@_op
def clip(x, x_min, x_max):
    """`x` limited to `[x_min, x_max]`."""
    return jnp.clip(x, x_min, x_max)


@_op
def take_along_axis(x, indices, axis=None):
    """Entries of `x` at `indices` along `axis` (of the flattened `x` when None)."""
    return jnp.take_along_axis(x, indices, axis=axis)


@_op
def where(condition, x1=None, x2=None):
    """`x1` where `condition`, else `x2`; the indices of true entries if both are None."""
    if x1 is None and x2 is None:
        return jnp.nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("where: pass both x1 and x2, or neither.")
    return jnp.where(condition, x1, x2)


@_op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """`x` with NaN and infinities replaced by finite numbers."""
    return jnp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


@_op
def divide_no_nan(x1, x2):
    """`x1 / x2`, with 0 wherever `x2` is 0."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    zero = x2 == 0
    return jnp.where(zero, 0, jnp.divide(x1, jnp.where(zero, 1, x2)))


@_op
def slogdet(x):
    """`(sign, log(abs(det(x))))` of square matrices."""
    sign, logdet = jnp.linalg.slogdet(x)
    return sign, logdet


# ============================================================================ math
@_op
def erf(x):
    """The error function."""
    return jax.scipy.special.erf(_float(x))


@_op
def erfc(x):
    """`1 - erf(x)`, accurate for large `x`."""
    return jax.scipy.special.erfc(_float(x))


@_op
def erfinv(x):
    """The inverse error function."""
    return jax.scipy.special.erfinv(_float(x))


@_op
def rsqrt(x):
    """`1 / sqrt(x)`."""
    return jax.lax.rsqrt(_float(x))


@_op
def logsumexp(x, axis=None, keepdims=False):
    """`log(sum(exp(x)))` over `axis`, computed stably."""
    return jax.scipy.special.logsumexp(x, axis=_axes(axis), keepdims=keepdims)


@_op
def logdet(x):
    """`log(abs(det(x)))` of square matrices."""
    return jnp.linalg.slogdet(x)[1]


@_op
def top_k(x, k, sorted=True):
    """`(values, indices)` of the `k` largest entries along the last axis, largest first
    (the order is the same with `sorted=False`)."""
    x = jnp.asarray(x)
    k = _check_int(k, "k", "top_k", minimum=0)
    if x.ndim == 0 or k > x.shape[-1]:
        raise ValueError(f"top_k: k={k} is larger than the last axis of x (shape "
                         f"{tuple(x.shape)}).")
    values, indices = jax.lax.top_k(x, k)
    return values, indices


@_op
def in_top_k(targets, predictions, k):
    """Whether each target class is among the `k` highest predictions of its row (ties
    count in; a NaN prediction for the target never does)."""
    predictions = jnp.asarray(predictions)
    targets = jnp.asarray(targets).astype(jnp.int32)
    at_target = jnp.take_along_axis(predictions, targets[..., None], axis=-1)
    at_target = jnp.where(jnp.isnan(at_target), -jnp.inf, at_target)
    return jnp.sum(predictions > at_target, axis=-1) < k


def _segment(jfn, name):
    def fn(data, segment_ids, num_segments=None, sorted=False):
        if num_segments is None and _is_traced(segment_ids):
            raise ValueError(
                f"{name}: argument `num_segments` is needed when segment_ids are traced "
                "(inside jit or a graph); received num_segments=None.")
        return jfn(data, segment_ids, num_segments=num_segments, indices_are_sorted=sorted)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"The {name.split('_')[1]} of the rows of `data` sharing each segment id "
                  "(`num_segments` rows; max id + 1 when None, outside jit).")
    return _op(fn)


segment_sum = _segment(jax.ops.segment_sum, "segment_sum")
segment_max = _segment(jax.ops.segment_max, "segment_max")
segment_min = _segment(jax.ops.segment_min, "segment_min")
segment_prod = _segment(jax.ops.segment_prod, "segment_prod")


def _complex(x, op):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{op}: expected x as a tuple (real, imag) of two float tensors, "
                         f"received {type(x).__name__}.")
    real, imag = jnp.asarray(x[0]), jnp.asarray(x[1])
    if real.shape != imag.shape:
        raise ValueError(f"{op}: the real and imaginary parts must have the same shape, "
                         f"received {tuple(real.shape)} and {tuple(imag.shape)}.")
    if not (jnp.issubdtype(real.dtype, jnp.floating) and jnp.issubdtype(imag.dtype, jnp.floating)):
        raise ValueError(f"{op}: the real and imaginary parts must be floats, received "
                         f"{real.dtype} and {imag.dtype}.")
    return jax.lax.complex(real, imag)


def _parts(z):
    return jnp.real(z), jnp.imag(z)


@_op
def fft(x):
    """FFT over the last axis of the complex tensor `x = (real, imag)`; returns
    `(real, imag)`."""
    return _parts(jnp.fft.fft(_complex(x, "fft")))


@_op
def fft2(x):
    """2D FFT over the last two axes of `x = (real, imag)`; returns `(real, imag)`."""
    return _parts(jnp.fft.fft2(_complex(x, "fft2")))


@_op
def ifft2(x):
    """Inverse 2D FFT over the last two axes of `x = (real, imag)`; returns `(real, imag)`."""
    return _parts(jnp.fft.ifft2(_complex(x, "ifft2")))


@_op
def rfft(x, fft_length=None):
    """FFT of the real `x` over its last axis (`fft_length // 2 + 1` bins); returns
    `(real, imag)`."""
    return _parts(jnp.fft.rfft(x, n=fft_length, axis=-1))


@_op
def irfft(x, fft_length=None):
    """Inverse of `rfft`: the real signal from `x = (real, imag)` of its half spectrum."""
    return jnp.fft.irfft(_complex(x, "irfft"), n=fft_length, axis=-1)


@_op
def view_as_real(x):
    """A complex tensor as floats with a trailing axis of size 2 (real, imag)."""
    x = jnp.asarray(x)
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)


@_op
def view_as_complex(x):
    """The complex tensor whose (real, imag) pairs lie on the last axis (of size 2) of `x`."""
    x = jnp.asarray(x)
    if x.ndim == 0 or x.shape[-1] != 2:
        raise ValueError(f"view_as_complex: expected a last axis of size 2, received shape "
                         f"{tuple(x.shape)}.")
    return jax.lax.complex(x[..., 0], x[..., 1])


@_op
def cdist(x, y):
    """Euclidean distances between the rows of `x` `(..., n, d)` and of `y` `(..., m, d)`."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise ValueError(f"cdist: expected inputs of rank >= 2 with the same last axis, "
                         f"received shapes {tuple(x.shape)} and {tuple(y.shape)}.")
    diff = x[..., :, None, :] - y[..., None, :, :]
    return jnp.sqrt(jnp.sum(diff * diff, axis=-1))


# ============================================================================ linalg
@_op
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (`jnp.linalg.norm`); integer inputs are promoted to float."""
    return jnp.linalg.norm(_float(x), ord=ord, axis=_axes(axis), keepdims=keepdims)


@_op
def cholesky(x, upper=False):
    """Cholesky factor of a positive-definite matrix (lower, or upper when `upper`)."""
    out = jnp.linalg.cholesky(x, upper=upper)
    if not _is_traced(out) and _bi.bool(jnp.any(jnp.isnan(out))):
        raise ValueError("cholesky: the decomposition failed; the input is not a symmetric "
                         "positive-definite matrix.")
    return out


@_op
def cholesky_inverse(x, upper=False):
    """Inverse of `A` from its Cholesky factor `x` (`A = x @ x.T`, or `x.T @ x` if upper)."""
    x = jnp.asarray(x)
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)
    inv_f = jax.scipy.linalg.solve_triangular(x, eye, lower=not upper)
    inv_t = jnp.swapaxes(inv_f, -1, -2)
    return inv_f @ inv_t if upper else inv_t @ inv_f


@_op
def det(x):
    """Determinant of square matrices."""
    return jnp.linalg.det(x)


@_op
def inv(x):
    """Inverse of square matrices."""
    return jnp.linalg.inv(x)


@_op
def solve(a, b):
    """`x` with `a @ x = b`."""
    return jnp.linalg.solve(a, b)


@_op
def solve_triangular(a, b, lower=False):
    """`x` with `a @ x = b` for a triangular `a` (lower when `lower`)."""
    return jax.scipy.linalg.solve_triangular(a, b, lower=lower)


@_op
def eig(x):
    """`(eigenvalues, eigenvectors)` of a square matrix (complex; CPU only in JAX)."""
    w, v = jnp.linalg.eig(x)
    return w, v


@_op
def eigh(x):
    """`(eigenvalues, eigenvectors)` of a symmetric (Hermitian) matrix, ascending."""
    w, v = jnp.linalg.eigh(x)
    return w, v


@_op
def qr(x, mode="reduced"):
    """`(q, r)` of the QR decomposition; `mode` is "reduced" or "complete"."""
    if mode not in ("reduced", "complete"):
        raise ValueError("qr: argument `mode` must be 'reduced' or 'complete', received "
                         f"mode={mode!r}.")
    q, r = jnp.linalg.qr(x, mode=mode)
    return q, r


@_op
def svd(x, full_matrices=True, compute_uv=True):
    """`(u, s, vh)` of the singular value decomposition, or `s` alone if not compute_uv."""
    out = jnp.linalg.svd(x, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


@_op
def lstsq(a, b, rcond=None):
    """The least-squares solution `x` of `a @ x = b`."""
    return jnp.linalg.lstsq(a, b, rcond=rcond)[0]


@_op
def lu_factor(x):
    """`(lu, pivots)`: the LU factorization of (batches of) square matrices."""
    lu, piv = jax.scipy.linalg.lu_factor(x)
    return lu, piv


def _check_matrix(x, op):
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of rank >= 2, received shape "
                         f"{tuple(x.shape)}.")
    return x


@_op
def matrix_rank(x, tol=None):
    """Rank of matrices: the number of singular values above `tol` (int32)."""
    x = _check_matrix(x, "matrix_rank")
    if tol is None:
        return jnp.linalg.matrix_rank(x).astype(jnp.int32)
    return jnp.linalg.matrix_rank(x, tol=tol).astype(jnp.int32)


@_op
def pinv(x, rcond=None):
    """Moore-Penrose pseudo-inverse; singular values below `rcond` times the largest are
    dropped."""
    return jnp.linalg.pinv(_check_matrix(x, "pinv"), rtol=rcond)


# ============================================================================ nn
@_op
def leaky_relu(x, negative_slope=0.2):
    """`x` for positive values, `negative_slope * x` otherwise (Keras's default slope 0.2)."""
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


@_op
def softsign(x):
    """`x / (abs(x) + 1)`."""
    return jax.nn.soft_sign(jnp.asarray(x))


@_op
def hard_silu(x):
    """`x * hard_sigmoid(x)`."""
    return jax.nn.hard_silu(jnp.asarray(x))


@_op
def hard_swish(x):
    """`x * hard_sigmoid(x)` (same as `hard_silu`)."""
    return jax.nn.hard_silu(jnp.asarray(x))


@_op
def hard_shrink(x, threshold=0.5):
    """`x` where `abs(x) > threshold`, else 0."""
    x = jnp.asarray(x)
    return jnp.where(jnp.abs(x) > threshold, x, jnp.zeros((), x.dtype))


@_op
def soft_shrink(x, threshold=0.5):
    """`x` moved toward 0 by `threshold`; 0 within it."""
    x = jnp.asarray(x)
    zero = jnp.zeros((), x.dtype)
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, zero))


@_op
def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = jnp.asarray(x)
    return x - jnp.tanh(x)


@_op
def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`."""
    x = jnp.asarray(x)
    return jnp.where(x > threshold, x, jnp.asarray(default_value, x.dtype))


@_op
def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2`."""
    return jax.nn.squareplus(jnp.asarray(x), b=b)


@_op
def sparse_plus(x):
    """0 below -1, `x` above 1, `(x + 1)**2 / 4` between."""
    return jax.nn.sparse_plus(jnp.asarray(x))


@_op
def sparse_sigmoid(x):
    """0 below -1, 1 above 1, `(x + 1) / 2` between."""
    return jax.nn.sparse_sigmoid(jnp.asarray(x))


@_op
def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of `x` onto the
    probability simplex along `axis`; outputs sum to 1 and are often exactly 0."""
    x = _float(x)
    z = -jnp.sort(-x, axis=axis)                      # descending
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    k = jnp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    cum = jnp.cumsum(z, axis=axis)
    support = 1 + k * z > cum                         # a prefix of the sorted entries
    n = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.take_along_axis(cum, n - 1, axis=axis) - 1) / n.astype(x.dtype)
    return jnp.maximum(x - tau, 0)


@_op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encoding of integer `x` with a new axis of size `num_classes` at `axis`
    (negative labels give all zeros)."""
    if sparse:
        raise ValueError("one_hot: trine has no sparse tensors; received sparse=True.")
    return jax.nn.one_hot(x, num_classes, dtype=dtype or jnp.float32, axis=axis)


@_op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encoding: for each row of integer labels (or the single vector of a rank-1
    input), a vector of size `num_classes` with ones at the labels present."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot: argument `num_classes` must be given.")
    if sparse:
        raise ValueError("multi_hot: trine has no sparse tensors; received sparse=True.")
    x = jnp.asarray(inputs).astype(jnp.int32)
    encoded = jax.nn.one_hot(x, num_classes, dtype=dtype or jnp.float32, axis=axis)
    return jnp.max(encoded, axis=1 if x.ndim > 1 else 0)


@_op
def normalize(x, axis=-1, order=2, epsilon=None):
    """`x / max(norm(x, order), epsilon)` along `axis` (epsilon defaults to
    `trine.config.epsilon()`)."""
    if isinstance(order, _bi.bool) or not isinstance(order, (int, _np.integer)) or order < 1:
        raise ValueError(f"normalize: argument `order` must be an integer >= 1, received "
                         f"order={order!r}.")
    x = _float(x)
    if x.ndim == 0:
        x = x[None]
    if epsilon is None:
        from trine.config import epsilon as _global_epsilon
        epsilon = _global_epsilon()
    eps = epsilon
    axis = _axes(axis)
    if order == 2:
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv_norm, 1.0 / eps)
    n = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(n, eps)


@_op
def moments(x, axes, keepdims=False, synchronized=False):
    """`(mean, variance)` of `x` over `axes`.

    Half-precision inputs are reduced in float32. `synchronized` is accepted for Keras
    compatibility: under trine's sharded `jit` the statistics already span all devices.
    """
    x = jnp.asarray(x)
    axes = _axes(axes)
    half = x.dtype in (jnp.float16, jnp.bfloat16)
    xc = x.astype(jnp.float32) if half else x
    mean = jnp.mean(xc, axis=axes, keepdims=keepdims)
    variance = jnp.var(xc, axis=axes, keepdims=keepdims)
    if half:
        info = jnp.finfo(x.dtype)
        mean = jnp.clip(mean, info.min, info.max).astype(x.dtype)
        variance = jnp.clip(variance, info.min, info.max).astype(x.dtype)
    return mean, variance


@_op
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, the statistics (vectors)
    laid along `axis` of `x`."""
    x, mean = jnp.asarray(x), jnp.asarray(mean)
    shape = [1] * x.ndim
    shape[axis] = mean.shape[0]

    def bc(v):
        return None if v is None else jnp.reshape(jnp.asarray(v), shape)

    return _normalization.affine(x, bc(mean), bc(variance), bc(scale), bc(offset), epsilon)


def _norm_axes(axis, ndim, op):
    axes = [axis] if isinstance(axis, (int, _np.integer)) else list(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for an input of rank {ndim}.")
    return tuple(sorted(int(a) % ndim for a in axes))


@_op
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Normalize `x` to zero mean and unit variance over `axis`, then scale by `gamma` and
    shift by `beta` (epsilon defaults to 1e-7). Computed in at least float32."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}.")
    if epsilon is None:
        from trine.config import epsilon as _global_epsilon
        epsilon = _global_epsilon()
    eps = epsilon
    x = jnp.asarray(x)
    orig = x.dtype
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    axes = _norm_axes(axis, x.ndim, "layer_normalization")
    bshape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]

    def bc(v):
        if v is None:
            return None
        v = jnp.asarray(v, x.dtype)
        # vectors over the normalized axes are laid along them; others broadcast as given
        if v.ndim != x.ndim and axes != (x.ndim - 1,):
            v = jnp.reshape(v, bshape)
        return v

    return _normalization.normalize_over(x, axes, bc(gamma), bc(beta), eps, rms_scaling).astype(orig)


@_op
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """`x / sqrt(mean(x**2) + epsilon) * scale` over `axis` (epsilon defaults to 1e-7)."""
    if epsilon is None:
        from trine.config import epsilon as _global_epsilon
        epsilon = _global_epsilon()
    eps = epsilon
    x = jnp.asarray(x)
    orig = x.dtype
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    if x.ndim == 0:
        x = x[None]
    y = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=_axes(axis), keepdims=True) + eps)
    if scale is not None:
        y = y * jnp.asarray(scale, x.dtype)
    return y.astype(orig)


def _epsilon():
    from trine.config import epsilon
    return epsilon()


def _clipped_log_probs(output, axis):
    """Keras's probability path: renormalise along `axis`, clip to [eps, 1-eps], log."""
    p = output / jnp.sum(output, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, _epsilon(), 1.0 - _epsilon()))


def _check_class_axis(axis, op):
    if isinstance(axis, _bi.bool) or not isinstance(axis, (int, _np.integer)):
        raise ValueError(f"{op} expected axis to be an integer, received axis={axis!r}.")


@_op
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (probabilities clipped to [eps, 1 - eps] unless
    `from_logits`)."""
    output = _float(output)
    target = jnp.asarray(target).astype(output.dtype)
    if target.shape != output.shape:
        raise ValueError(f"binary_crossentropy: target and output must have the same shape, "
                         f"received {tuple(target.shape)} and {tuple(output.shape)}.")
    if from_logits:
        import optax  # imported on first use: keeps `import trine` fast
        return optax.sigmoid_binary_cross_entropy(output, target)
    p = jnp.clip(output, _epsilon(), 1.0 - _epsilon())
    return -(target * jnp.log(p) + (1.0 - target) * jnp.log(1.0 - p))


@_op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between distributions `target` and `output` along `axis` (`output`
    renormalised and clipped to [eps, 1 - eps] unless `from_logits`)."""
    _check_class_axis(axis, "categorical_crossentropy")
    output = _float(output)
    target = jnp.asarray(target).astype(output.dtype)
    if target.shape != output.shape:
        raise ValueError(
            f"categorical_crossentropy expected y_true and y_pred of the same shape, received "
            f"y_true.shape={tuple(target.shape)} and y_pred.shape={tuple(output.shape)}. For "
            "integer class labels use sparse_categorical_crossentropy instead.")
    if output.ndim < 1:
        raise ValueError("categorical_crossentropy expected inputs of rank >= 1, received scalars.")
    if from_logits:
        import optax
        return optax.softmax_cross_entropy(output, target, axis=axis)
    return -jnp.sum(target * _clipped_log_probs(output, axis), axis=axis)


@_op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between integer labels `target` (shape `output.shape[:-1]`; a trailing
    axis of size 1 is squeezed) and distributions `output`."""
    _check_class_axis(axis, "sparse_categorical_crossentropy")
    output = _float(output)
    target = jnp.asarray(target)
    if output.ndim < 1:
        raise ValueError(
            "sparse_categorical_crossentropy expected y_pred of rank >= 1 (the class axis "
            f"last), received shape {tuple(output.shape)}.")
    if target.ndim == output.ndim and target.shape[axis] == 1:
        target = jnp.squeeze(target, axis=axis)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, axis=-1)
    if tuple(target.shape) != tuple(output.shape[:-1]):
        raise ValueError(
            "sparse_categorical_crossentropy expected y_true of shape y_pred.shape[:-1] "
            f"(one integer label per sample), received y_true.shape={tuple(target.shape)} and "
            f"y_pred.shape={tuple(output.shape)}. For one-hot targets use "
            "categorical_crossentropy instead.")
    log_probs = (jax.nn.log_softmax(output, axis=axis) if from_logits
                 else _clipped_log_probs(output, axis))
    one_hot = jax.nn.one_hot(target.astype(jnp.int32), output.shape[axis], dtype=output.dtype,
                             axis=axis)
    return -jnp.sum(one_hot * log_probs, axis=axis)


@_op
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sequence CTC loss of logits `output` `(batch, time, classes)` for the labels
    `target` `(batch, max_label_length)`; `mask_index` is the blank class."""
    import optax
    target = jnp.asarray(target).astype(jnp.int32)
    output = jnp.asarray(output)
    output = output.astype(jnp.result_type(output.dtype, jnp.float32))
    target_length = jnp.asarray(target_length).astype(jnp.int32)
    output_length = jnp.asarray(output_length).astype(jnp.int32)

    def paddings(lengths, size):
        return (jnp.arange(size)[None, :] >= lengths[:, None]).astype(output.dtype)

    return optax.ctc_loss(output, paddings(output_length, output.shape[1]), target,
                          paddings(target_length, target.shape[1]), blank_id=mask_index)


@_op
def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio (dB) between `x1` and `x2`, over all entries."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    if x1.shape != x2.shape:
        raise ValueError(f"psnr: x1 and x2 must have the same shape, received "
                         f"{tuple(x1.shape)} and {tuple(x2.shape)}.")
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20 * jnp.log10(jnp.asarray(max_val, x2.dtype)) - 10 * jnp.log10(mse)


@_op
def polar(abs_, angle):
    """The complex numbers `abs_ * (cos(angle) + i sin(angle))`."""
    abs_, angle = _float(abs_), _float(angle)
    return jax.lax.complex(abs_ * jnp.cos(angle), abs_ * jnp.sin(angle))


@_op
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, flash_attention=None, attn_logits_soft_cap=None):
    """`softmax(query @ key.T * scale + bias, masked) @ value` per head.

    Inputs are `(batch, time, heads, depth)` (keys and values may have fewer heads that
    divide the query's); `mask` (True: attend) and `bias` broadcast to
    `(batch, heads, query_time, key_time)`; `scale` defaults to `1 / sqrt(depth)`.
    `flash_attention=True` asks for cuDNN's fused kernel, False for XLA's.
    """
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: attn_logits_soft_cap is not "
                                  "supported (it needs a TPU kernel); leave it None.")
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise ValueError(
            "dot_product_attention: expected 4D inputs (batch, time, heads, depth), received "
            f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}.")
    dt = jnp.result_type(query.dtype, key.dtype, value.dtype)
    query, key, value = query.astype(dt), key.astype(dt), value.astype(dt)
    if bias is not None:
        bias = jnp.asarray(bias, dt)
    if mask is not None:
        mask = jnp.asarray(mask).astype(jnp.bool_)
    impl = {None: None, True: "cudnn", False: "xla"}.get(flash_attention, "invalid")
    if impl == "invalid":
        raise ValueError("dot_product_attention: flash_attention must be None, True or "
                         f"False, received {flash_attention!r}.")
    return jax.nn.dot_product_attention(query, key, value, bias=bias, mask=mask, scale=scale,
                                        is_causal=is_causal, implementation=impl)


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


# ============================================================================ image
_RESIZE = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def _image_resize(images, size, interpolation="bilinear", antialias=False,
                  crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode="constant",
                  fill_value=0.0, data_format=None):
    """Resize images (rank 3 or 4) to `size = (height, width)`."""
    df = _convolution.normalize_data_format(data_format, "image.resize")
    if interpolation not in _RESIZE:
        raise ValueError(f"image.resize: argument `interpolation` must be one of {_RESIZE}, "
                         f"received interpolation={interpolation!r}.")
    if fill_mode != "constant":
        raise ValueError(f"image.resize: only fill_mode='constant' is supported, received "
                         f"fill_mode={fill_mode!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("image.resize: crop_to_aspect_ratio and pad_to_aspect_ratio cannot "
                         "both be True.")
    if len(size) != 2:
        raise ValueError(f"image.resize: argument `size` must be (height, width), received "
                         f"size={size!r}.")
    x = jnp.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"image.resize: expected images of rank 3 or 4, received shape "
                         f"{tuple(x.shape)}.")
    th, tw = (int(s) for s in size)
    hax = x.ndim - 3 if df == "channels_last" else x.ndim - 2
    h, w = x.shape[hax], x.shape[hax + 1]
    if crop_to_aspect_ratio:
        ch = _bi.max(_bi.min(h, int(w * th / tw)), 1)
        cw = _bi.max(_bi.min(w, int(h * tw / th)), 1)
        top, left = int((h - ch) / 2), int((w - cw) / 2)
        x = jax.lax.slice_in_dim(x, top, top + ch, axis=hax)
        x = jax.lax.slice_in_dim(x, left, left + cw, axis=hax + 1)
    elif pad_to_aspect_ratio:
        ph = int((_bi.max(h, int(w * th / tw)) - h) / 2)
        pw = int((_bi.max(w, int(h * tw / th)) - w) / 2)
        pads = [(0, 0)] * x.ndim
        if ph > 0:
            pads[hax] = (ph, ph)
        elif pw > 0:
            pads[hax + 1] = (pw, pw)
        x = jnp.pad(x, pads, constant_values=fill_value)
    shape = list(x.shape)
    shape[hax], shape[hax + 1] = th, tw
    return jax.image.resize(x, tuple(shape), method=interpolation, antialias=antialias)


def _image_rgb_to_grayscale(images, data_format=None):
    """Luma of RGB images (rank 3 or 4) as one channel; one-channel images pass through."""
    df = _convolution.normalize_data_format(data_format, "image.rgb_to_grayscale")
    x = jnp.asarray(images)
    axis = -1 if df == "channels_last" else -3
    if x.ndim not in (3, 4) or x.shape[axis] not in (1, 3):
        raise ValueError("image.rgb_to_grayscale: expected images of rank 3 or 4 with 1 or 3 "
                         f"channels, received shape {tuple(x.shape)}.")
    if x.shape[axis] == 1:
        return x
    xf = x.astype(jnp.result_type(x.dtype, jnp.float32))
    weights = jnp.asarray([0.2989, 0.5870, 0.1140], xf.dtype)
    gray = jnp.tensordot(xf, weights, axes=(axis % x.ndim, 0))
    return jnp.expand_dims(gray, axis).astype(x.dtype)


_MAP_FILL = ("constant", "nearest", "wrap", "mirror", "reflect")


def _image_map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """`inputs` sampled at `coordinates` (one row per axis of `inputs`), with spline `order`
    0 (nearest) or 1 (linear)."""
    x, c = jnp.asarray(inputs), jnp.asarray(coordinates)
    if c.ndim < 2 or c.shape[0] != x.ndim:
        raise ValueError(f"image.map_coordinates: expected coordinates of shape ({x.ndim}, "
                         f"...) for inputs of rank {x.ndim}, received {tuple(c.shape)}.")
    if fill_mode not in _MAP_FILL:
        raise ValueError(f"image.map_coordinates: fill_mode must be one of {_MAP_FILL}, "
                         f"received fill_mode={fill_mode!r}.")
    if order not in (0, 1):
        raise ValueError(f"image.map_coordinates: order must be 0 or 1, received order={order!r}.")
    return jax.scipy.ndimage.map_coordinates(x, c, order, mode=fill_mode, cval=fill_value)


_image_resize = _wrap(_image_resize, "_image_resize")
_image_rgb_to_grayscale = _wrap(_image_rgb_to_grayscale, "_image_rgb_to_grayscale")
_image_map_coordinates = _wrap(_image_map_coordinates, "_image_map_coordinates")


# ============================================================================ namespaces
class _Namespace(types.ModuleType):
    """`trine.ops.<group>` (Keras's `keras.ops.nn`, ...): names forwarded to `trine.ops`."""

    def __init__(self, group, names, doc, open_names=None):
        super().__init__(f"{__name__}.{group}", doc)
        self._group = group
        self._names = dict(names)
        self._open = open_names

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        target = self._names.get(name)
        if target is None and self._open is not None and self._open(name):
            target = name
        if target is None:
            raise AttributeError(f"trine.ops.{self._group} has no operation {name!r}.")
        fn = getattr(sys.modules[__name__], target)
        setattr(self, name, fn)
        return fn

    def __dir__(self):
        names = set(self._names)
        if self._open is not None:
            names.update(n for n in dir(jnp) if self._open(n))
        return sorted(names)


def _jnp_function(name):
    if name.startswith("_"):
        return False
    a = getattr(jnp, name, None)
    return callable(a) and not isinstance(a, (type, types.ModuleType))


_NUMPY_EXTRA = ("divide_no_nan", "get_item", "slogdet", "view")
_NN_NAMES = (
    "adaptive_average_pool", "adaptive_max_pool", "ctc_decode", "fold", "unfold",
    "average_pool", "batch_normalization", "binary_crossentropy", "categorical_crossentropy",
    "celu", "conv", "conv_transpose", "ctc_loss", "depth_to_space", "depthwise_conv",
    "dot_product_attention", "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "layer_normalization", "leaky_relu", "log_sigmoid",
    "log_softmax", "max_pool", "moments", "multi_hot", "normalize", "one_hot", "polar", "psnr",
    "relu", "relu6", "rms_normalization", "selu", "separable_conv", "sigmoid", "silu",
    "soft_shrink", "softmax", "softplus", "softsign", "space_to_depth",
    "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh_shrink", "threshold")
_LINALG_NAMES = ("cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq",
                 "lu_factor", "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular",
                 "svd")
_MATH_NAMES = ("cdist", "erf", "erfc", "erfinv", "fft", "fft2", "ifft2", "in_top_k", "irfft",
               "logdet", "logsumexp", "rfft", "rsqrt", "segment_max", "segment_min",
               "segment_prod", "segment_sum", "top_k", "view_as_complex", "view_as_real")
_CORE_NAMES = ("associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor",
               "custom_gradient", "dtype", "fori_loop", "is_tensor", "map", "saturate_cast",
               "scan", "scatter", "scatter_update", "shape", "slice", "slice_update",
               "stop_gradient", "switch", "unstack", "vectorized_map", "while_loop")
_IMAGE_NAMES = {"resize": "_image_resize", "rgb_to_grayscale": "_image_rgb_to_grayscale",
                "map_coordinates": "_image_map_coordinates"}
# Ops written in their own modules (loaded on first use): ops name -> (module, function)
_IMAGE_MORE = ("affine_transform", "crop_images", "elastic_transform", "extract_patches",
               "extract_patches_3d", "gaussian_blur", "hsv_to_rgb", "pad_images",
               "perspective_transform", "rgb_to_hsv", "scale_and_translate", "sobel_edges", "ssim")
_IMAGE_NAMES.update({n: f"_image_{n}" for n in _IMAGE_MORE})
_ELSEWHERE = {f"_image_{n}": ("trine.ops_image", n) for n in _IMAGE_MORE}
_ELSEWHERE.update({n: ("trine.ops_signal", n) for n in ("extract_sequences", "istft", "stft")})
_ELSEWHERE.update({n: ("trine.ops_extra", n) for n in (
    "adaptive_average_pool", "adaptive_max_pool", "ctc_decode", "fold", "rearrange", "unfold",
    "view")})


def _names(seq):
    return {n: n for n in seq}


numpy = _Namespace("numpy", _names(_NUMPY_EXTRA), "NumPy-style operations (keras.ops.numpy).",
                   open_names=_jnp_function)
nn = _Namespace("nn", _names(_NN_NAMES), "Neural-network operations (keras.ops.nn).")
linalg = _Namespace("linalg", _names(_LINALG_NAMES), "Linear algebra (keras.ops.linalg).")
math = _Namespace("math", _names(_MATH_NAMES), "Math operations (Keras's ops.math group).")
core = _Namespace("core", _names(_CORE_NAMES), "Core and control-flow operations.")
image = _Namespace("image", _IMAGE_NAMES, "Image operations (keras.ops.image).")
for _ns in (numpy, nn, linalg, math, core, image):
    sys.modules[_ns.__name__] = _ns
del _ns


def __getattr__(name):
    if name in _ELSEWHERE:
        import importlib
        module, attr = _ELSEWHERE[name]
        fn = _wrap(getattr(importlib.import_module(module), attr), name)
    elif name in _NN and hasattr(jax.nn, name):
        fn = _wrap(getattr(jax.nn, name), name)
    elif not name.startswith("_") and hasattr(jnp, name) and not isinstance(
            getattr(jnp, name), types.ModuleType):
        fn = _wrap(getattr(jnp, name), name)
    else:
        raise AttributeError(f"trine.ops has no operation {name!r} (jax.numpy has none either).")
    globals()[name] = fn
    return fn
