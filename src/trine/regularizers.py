"""Weight penalties added to the loss (Keras `keras.regularizers`)."""
from __future__ import annotations

import jax.numpy as jnp
from trine.core import registration


class Regularizer:
    """Base class: `__call__(x) -> scalar penalty`."""

    def __call__(self, x):
        return jnp.zeros(())

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`.

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for n, v in (("l1", l1), ("l2", l2)):
            if v is None or float(v) < 0:
                raise ValueError(f"L1L2 expected {n} >= 0, received {v!r}.")
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        x = jnp.asarray(x)
        out = jnp.zeros((), x.dtype)
        if self.l1:
            out = out + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            out = out + self.l2 * jnp.sum(jnp.square(x))
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """`l1 * sum(|x|)`, default l1=0.01."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """`l2 * sum(x**2)`, default l2=0.01."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalise non-orthogonal rows or columns of a 2D kernel."""

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer expected mode 'rows' or 'columns', received {mode!r}.")
        self.factor, self.mode = float(factor), mode

    def __call__(self, x):
        if len(x.shape) != 2:
            raise ValueError(
                f"OrthogonalRegularizer needs a rank-2 kernel, received shape {tuple(x.shape)}. "
                "Apply it to Dense-like (input_dim, units) kernels.")
        x = x if self.mode == "rows" else x.T
        x = x / jnp.maximum(jnp.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        prod = x @ x.T
        n = prod.shape[0]
        # each off-diagonal pair appears twice in the sum: the 0.5 counts it once, as Keras does
        return self.factor * 0.5 * jnp.sum(jnp.abs(prod * (1 - jnp.eye(n)))) / (n * (n - 1) / 2)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer,
            "OrthogonalRegularizer": OrthogonalRegularizer}


def get(identifier):
    """Resolve None, a name, a config dict, an instance or a callable to a regularizer."""
    return registration.get_configurable(identifier, _BY_NAME, Regularizer, "regularizer")


def serialize(reg):
    if reg is None:
        return None
    if isinstance(reg, Regularizer):
        return registration.object_record(reg, "keras.regularizers", _BY_NAME)
    raise ValueError(f"Cannot serialize regularizer {reg!r}: it is not a Regularizer.")


# Keras exports the snake_case name as the class itself.
orthogonal_regularizer = OrthogonalRegularizer


def deserialize(config, custom_objects=None):
    """Rebuild a regularizer from `serialize`'s output (or a name).

    Args:
        config: a config dict `{"class_name": ..., "config": {...}}` or a name.
        custom_objects: extra class_name -> class entries to look in first.

    Returns:
        The Regularizer.

    Raises:
        ValueError: for an unknown class name (the valid names are listed).
    """
    return registration.deserialize_configurable(config, custom_objects, _BY_NAME, Regularizer,
                                                 "regularizer", "regularizers.deserialize")


registration.register_getter("regularizer", get)
