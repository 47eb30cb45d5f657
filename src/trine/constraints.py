"""Projections applied to a weight after each optimizer update (Keras `keras.constraints`)."""
from __future__ import annotations

import jax.numpy as jnp
from trine.core import registration


class Constraint:
    """Base class: `__call__(w) -> projected w`."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale so the norm along `axis` is at most `max_value`."""

    def __init__(self, max_value: float = 2.0, axis: int = 0):
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        norms = jnp.sqrt(jnp.sum(jnp.square(w), axis=self.axis, keepdims=True))
        desired = jnp.clip(norms, 0, self.max_value)
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero out negative entries."""

    def __call__(self, w):
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    """Rescale to unit norm along `axis`."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def __call__(self, w):
        return w / (1e-7 + jnp.sqrt(jnp.sum(jnp.square(w), axis=self.axis, keepdims=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Keep the norm along `axis` in [min_value, max_value] (blended by `rate`)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = jnp.sqrt(jnp.sum(jnp.square(w), axis=self.axis, keepdims=True))
        desired = self.rate * jnp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_BY_NAME = {"max_norm": MaxNorm, "MaxNorm": MaxNorm, "non_neg": NonNeg, "NonNeg": NonNeg,
            "unit_norm": UnitNorm, "UnitNorm": UnitNorm, "min_max_norm": MinMaxNorm,
            "MinMaxNorm": MinMaxNorm}


def get(identifier):
    """Resolve None, a name, a config dict, an instance or a callable to a constraint."""
    return registration.get_configurable(identifier, _BY_NAME, Constraint, "constraint")


def serialize(c):
    if c is None:
        return None
    return registration.object_record(c, "keras.constraints", _BY_NAME)


# Keras also exports the snake_case names as the classes themselves.
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm


def deserialize(config, custom_objects=None):
    """Rebuild a constraint from `serialize`'s output (or a name).

    Args:
        config: a config dict `{"class_name": ..., "config": {...}}` or a name.
        custom_objects: extra class_name -> class entries to look in first.

    Returns:
        The Constraint.

    Raises:
        ValueError: for an unknown class name (the valid names are listed).
    """
    return registration.deserialize_configurable(config, custom_objects, _BY_NAME, Constraint,
                                                 "constraint", "constraints.deserialize")


registration.register_getter("constraint", get)
