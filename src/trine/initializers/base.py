"""The initializer base class and the helpers every initializer shares (dtype, shape, draws)."""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it restores the
# requested variance after truncation (Keras and jax use the same constant).
_TRUNCATED_STD = 0.87962566103423978


def _dtype(dtype) -> jnp.dtype:
    return jnp.dtype("float32" if dtype is None else dtype)


def _float_dtype(dtype, who: str) -> jnp.dtype:
    d = _dtype(dtype)
    if not jnp.issubdtype(d, jnp.floating):
        raise ValueError(
            f"{who} draws random floats and needs a floating dtype, received dtype={d.name}. "
            "Use a float dtype (e.g. 'float32'), or 'zeros' / Constant(...) for integer "
            "weights.")
    return d



# Random draws go through three jitted samplers of *flat, bucketed* length (the next power
# of two): XLA compiles one program per bucket instead of one per weight shape, which
# dominated model-building time on CPU. Values are the first prod(shape) draws, reshaped.
@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _flat_draw(key, kind, n, dtype, a, b):
    if kind == "normal":
        return jax.random.normal(key, (n,), dtype) * a + b
    if kind == "truncated_normal":
        return jax.random.truncated_normal(key, -2.0, 2.0, (n,), dtype) * a + b
    return jnp.maximum(a, jax.random.uniform(key, (n,), dtype) * (b - a) + a)  # [a, b)


def _draw(kind, key, shape, dtype, a=1.0, b=0.0):
    """`a * z + b` for normal kinds; uniform on [a, b) for "uniform"; of `shape`."""
    n = int(math.prod(shape))
    bucket = max(256, 1 << max(0, n - 1).bit_length())
    flat = _flat_draw(key, kind, bucket, jnp.dtype(dtype).name, jnp.asarray(a, dtype),
                      jnp.asarray(b, dtype))
    if isinstance(flat, jax.core.Tracer):
        return flat[:n].reshape(shape)
    return jnp.asarray(np.asarray(flat)[:n].reshape(shape))  # host slice: no per-shape compile

def _shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"Initializer expected shape to be a tuple of integers, received {shape!r}. "
            "Pass a fully known shape, e.g. (784, 128).") from None


class Initializer:
    """Base class of initializers: `__call__(shape, dtype=None, key=None) -> array`.

    Subclasses implement `__call__`; `get_config` returns the constructor arguments and
    `from_config` rebuilds the initializer from them.

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype=None, key=None):
        ...         return jnp.full(shape, 0.5, dtype or "float32")
    """

    accepts_key = True  # add_weight passes each weight its own PRNG key


    def __call__(self, shape, dtype=None, key=None):
        """Return an array of `shape` and `dtype` (default float32).

        Args:
            shape: the array's shape.
            dtype: its dtype (default float32).
            key: a JAX PRNG key for random initializers; ignored by constant ones.

        Returns:
            A JAX array.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(self, shape, dtype=None, key=None).")

    def get_config(self) -> dict:
        """The constructor arguments, as a JSON-serialisable dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        """Rebuild an initializer from `get_config()`'s output."""
        return cls(**config)

    def clone(self) -> "Initializer":
        """A new initializer with the same configuration."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
