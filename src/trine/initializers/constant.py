"""Initializers that need no randomness: zeros, ones, a constant, the identity, a given array."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.initializers.base import Initializer, _dtype, _shape


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2, 3))
    """

    def __call__(self, shape, dtype=None, key=None):
        return jnp.zeros(_shape(shape), _dtype(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2, 3))
    """

    def __call__(self, shape, dtype=None, key=None):
        return jnp.ones(_shape(shape), _dtype(dtype))


class Constant(Initializer):
    """Every entry equal to `value`.

    Args:
        value: a Python scalar (default 0.0).

    Example:
        >>> Constant(0.1)((3,))
    """

    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self, shape, dtype=None, key=None):
        d = _dtype(dtype)
        return jnp.asarray(self.value, d) * jnp.ones(_shape(shape), d)

    def get_config(self):
        v = self.value
        if isinstance(v, (np.generic,)):
            v = v.item()
        elif isinstance(v, (np.ndarray, jax.Array)):
            v = np.asarray(v).tolist()
        return {"value": v}


class Identity(Initializer):
    """`gain` times the identity matrix (2D shapes only; rectangular allowed).

    Args:
        gain: the diagonal value (default 1.0).

    Raises:
        ValueError: when called with a shape that is not 2D.
    """

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None, key=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer needs a 2D shape, received shape={shape} of rank "
                f"{len(shape)}. Use it for square or rectangular matrices only.")
        d = _dtype(dtype)
        return jnp.asarray(self.gain, d) * jnp.eye(*shape, dtype=d)

    def get_config(self):
        return {"gain": self.gain}


class _ArrayInitializer(Initializer):
    """Use a given array as the value (what `get(array)` returns)."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def __call__(self, shape, dtype=None, key=None):
        shape = _shape(shape)
        if shape != tuple(self.value.shape):
            raise ValueError(
                f"The array given as initializer has shape {tuple(self.value.shape)} but the "
                f"weight has shape {shape}. Pass an array of shape {shape}.")
        return jnp.asarray(self.value, _dtype(dtype))

    def get_config(self):
        return {"value": self.value.tolist()}
