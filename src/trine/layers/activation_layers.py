"""Activation layers: ReLU, LeakyReLU, ELU, PReLU and Softmax (with masks), as in Keras."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine import activations, constraints, initializers, regularizers
from trine.core.layer import Layer


def _non_negative(layer, arg, value, allow_none=False):
    if value is None and allow_none:
        return None
    if value is None or float(value) < 0.0:
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected {arg} to be a number >= 0, "
            f"received {arg}={value!r}.")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with Keras's optional ceiling, leak and threshold.

    Args:
        max_value: largest output (None: no ceiling). Must be >= 0.
        negative_slope: slope below the threshold (default 0). Must be >= 0.
        threshold: inputs at or below it are damped (default 0). Must be >= 0.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(self, "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative(self, "negative_slope", negative_slope)
        self.threshold = _non_negative(self, "threshold", threshold)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                    "threshold": self.threshold})
        return cfg


class LeakyReLU(Layer):
    """`x` for `x >= 0`, `negative_slope * x` otherwise (Keras's default slope 0.3).

    `alpha=` is accepted as the old name of `negative_slope`.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(self, "negative_slope", negative_slope)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return jax.nn.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        cfg = super().get_config()
        cfg["negative_slope"] = self.negative_slope
        return cfg


class ELU(Layer):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        cfg = super().get_config()
        cfg["alpha"] = self.alpha
        return cfg


class PReLU(Layer):
    """Leaky ReLU whose slope `alpha` is learned, one per feature unless axes are shared.

    Args:
        alpha_initializer: initializer of the slopes (default "Zeros").
        alpha_regularizer / alpha_constraint: optional penalty / constraint on the slopes.
        shared_axes: axes (1-based, without batch) along which one slope is shared, e.g.
            `[1, 2]` for one slope per channel of an image.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]
        self.supports_masking = True

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or ():
            if not 1 <= a <= len(shape):
                raise ValueError(
                    f"PReLU layer '{self.name}': shared_axes must name axes 1..{len(shape)} of "
                    f"inputs of shape {tuple(input_shape)}, received shared_axes="
                    f"{self.shared_axes}.")
            shape[a - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"PReLU layer '{self.name}' needs every non-shared axis known to build, "
                f"received input shape {tuple(input_shape)}; share the unknown axes with "
                "shared_axes.")
        self.alpha = self.add_weight(shape=tuple(shape), name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs):
        return jax.nn.relu(inputs) - self.alpha.value * jax.nn.relu(-inputs)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"alpha_initializer": initializers.serialize(self.alpha_initializer),
                    "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                    "alpha_constraint": constraints.serialize(self.alpha_constraint),
                    "shared_axes": self.shared_axes})
        return cfg


class Softmax(Layer):
    """Softmax over `axis` (an int or a tuple of axes).

    With a mask (passed or carried by the input), masked positions are left out of the
    normalisation and get probability 0, so a fully masked row is all zeros.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, mask=None):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if mask is None:
            return jax.nn.softmax(inputs, axis=axis)
        mask = jnp.asarray(mask)
        if mask.ndim > inputs.ndim or any(
                m not in (1, i) for m, i in zip(mask.shape[::-1], inputs.shape[::-1])):
            raise ValueError(
                f"Softmax layer '{self.name}' expected a mask broadcastable to the inputs "
                f"{tuple(inputs.shape)}, received a mask of shape {tuple(mask.shape)}.")
        if mask.dtype != jnp.bool_:
            mask = mask > 0.5
        neg = -3e4 if inputs.dtype == jnp.float16 else -1e9
        out = jax.nn.softmax(jnp.where(mask, inputs, jnp.asarray(neg, inputs.dtype)), axis=axis)
        return jnp.where(mask, out, jnp.zeros((), out.dtype))

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg
