"""NumPy-style operations that need more than `jax.numpy` (Keras's reductions with
`initial`, quantiles, `unique`, padding, `where`, ...)."""
from __future__ import annotations

import jax.numpy as jnp

from trine.ops._dispatch import _axes, _op


__all__ = [
    "sum", "mean", "amax", "amin", "any", "all", "std", "var", "median", "argmax", "argmin",
    "ptp", "nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar", "nanmedian",
    "nanargmax", "nanargmin", "max", "min", "prod", "quantile", "percentile", "nanquantile",
    "nanpercentile", "unique", "pad", "reshape", "clip", "take_along_axis", "where",
    "nan_to_num", "divide_no_nan", "slogdet"]


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
