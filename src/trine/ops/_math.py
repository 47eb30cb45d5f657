"""Math operations (Keras's `keras.ops.math` group): special functions, top-k, segment
reductions, FFTs and complex views."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.ops._dispatch import _axes, _check_int, _float, _is_traced, _op


__all__ = [
    "erf", "erfc", "erfinv", "rsqrt", "logsumexp", "logdet", "top_k", "in_top_k", "segment_sum",
    "segment_max", "segment_min", "segment_prod", "fft", "fft2", "ifft2", "rfft", "irfft",
    "view_as_real", "view_as_complex", "cdist"]


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
