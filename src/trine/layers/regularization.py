"""Regularization layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout,
AlphaDropout, ActivityRegularization. (`Dropout` lives in layers/core.py.)

The random layers act only in training (`training=True`, which `fit` sets); otherwise they
return their input unchanged. Their keys come from `Layer.rng_key()`: derived from the step
key under `fit` / `stateless_call(..., rng=key)`, so runs are reproducible.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from trine.core.layer import InputSpec, Layer
from trine.core.naming import layer_label
from trine.ops.convolution import normalize_data_format
from trine.layers.core import Dropout, _RandomLayer


def _check_rate(layer, value, arg="rate", upper_open=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = None
    bad = v is None or v < 0 or (v >= 1 if upper_open else v > 1)
    if bad:
        rng = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(
            f"{layer_label(layer)}: argument `{arg}` must be a number in {rng}, received "
            f"{arg}={value!r}.")
    return v


# --------------------------------------------------------------------------------------
class _SpatialDropout(Dropout):
    """Dropout of whole channels (feature maps) rather than single values."""

    _ndim = 3

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.input_spec = InputSpec(ndim=self._ndim)
        self.data_format = "channels_last"

    def _noise_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + (1,) * (len(shape) - 2)
        return (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = jax.random.bernoulli(self.rng_key(), 1.0 - self.rate,
                                    self._noise_shape(inputs.shape))
        return jnp.where(keep, inputs / (1.0 - self.rate), jnp.zeros((), inputs.dtype))

    def get_config(self):
        # Keras's spatial dropout layers take only these arguments (no `trainable`).
        cfg = {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        return cfg


class SpatialDropout1D(_SpatialDropout):
    """Drop whole channels of `(batch, steps, channels)` inputs in training: each sample
    keeps or zeroes each channel for all steps, scaling kept ones by `1 / (1 - rate)`.

    Use it instead of `Dropout` after convolutions, whose neighbouring values are correlated.

    Args:
        rate: fraction of channels to drop, in [0, 1).
        seed: optional integer seed.

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        ValueError: if `rate` is outside [0, 1).

    Example:
        >>> SpatialDropout1D(0.5)(jnp.ones((2, 4, 3)), training=True).shape
        (2, 4, 3)
    """

    _ndim = 3

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drop whole feature maps of images in training (see `SpatialDropout1D`).

    Args:
        rate: fraction of channels to drop, in [0, 1).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        ValueError: on an invalid rate or data_format.

    Example:
        >>> SpatialDropout2D(0.5)(jnp.ones((2, 4, 4, 3)), training=True).shape
        (2, 4, 4, 3)
    """

    _ndim = 4

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = normalize_data_format(data_format, layer_label(self))

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg


class SpatialDropout3D(SpatialDropout2D):
    """Drop whole feature volumes of `(batch, d1, d2, d3, channels)` inputs in training.

    Args:
        rate: fraction of channels to drop, in [0, 1).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        ValueError: on an invalid rate or data_format.

    Example:
        >>> SpatialDropout3D(0.5)(jnp.ones((1, 2, 2, 2, 3)), training=True).shape
        (1, 2, 2, 2, 3)
    """

    _ndim = 5


# --------------------------------------------------------------------------------------
class GaussianNoise(_RandomLayer):
    """Add zero-centred Gaussian noise of standard deviation `stddev` in training
    (a regularizer and a form of data augmentation).

    Args:
        stddev: standard deviation of the noise, in [0, 1].
        seed: optional integer seed.

    Returns (when called):
        A tensor of the input's shape; the input itself outside training.

    Raises:
        ValueError: if `stddev` is outside [0, 1].

    Example:
        >>> GaussianNoise(0.1)(jnp.zeros((2, 3)), training=True).shape
        (2, 3)
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _check_rate(self, stddev, "stddev")

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        noise = jax.random.normal(self.rng_key(), inputs.shape, inputs.dtype) * self.stddev
        return inputs + noise

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"stddev": self.stddev, "seed": self.seed})
        return cfg


class GaussianDropout(_RandomLayer):
    """Multiply inputs by Gaussian noise of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))` in training.

    Args:
        rate: drop probability of the equivalent Dropout, in [0, 1].
        seed: optional integer seed.

    Returns (when called):
        A tensor of the input's shape; the input itself outside training.

    Raises:
        ValueError: if `rate` is outside [0, 1].

    Example:
        >>> GaussianDropout(0.2)(jnp.ones((2, 3)), training=True).shape
        (2, 3)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(self, rate)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = 1.0 + stddev * jax.random.normal(self.rng_key(), inputs.shape, inputs.dtype)
        return inputs * noise

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"rate": self.rate, "seed": self.seed})
        return cfg


class AlphaDropout(_RandomLayer):
    """Dropout for self-normalizing (SELU) networks: dropped values are set to SELU's
    negative saturation and the result is affinely corrected so that mean and variance are
    kept (Klambauer et al., 2017). Acts only in training.

    Args:
        rate: fraction to drop, in [0, 1].
        noise_shape: shape of the keep mask, broadcast against the input (None entries
            follow the input).
        seed: optional integer seed.

    Returns (when called):
        A tensor of the input's shape; the input itself outside training.

    Raises:
        ValueError: if `rate` is outside [0, 1].

    Example:
        >>> AlphaDropout(0.1)(jnp.ones((2, 3)), training=True).shape
        (2, 3)
    """

    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(self, rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(inputs.shape, self.noise_shape))
        alpha_p = -self._ALPHA * self._SCALE
        kept = (jax.random.uniform(self.rng_key(), shape) >= self.rate).astype(inputs.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = inputs * kept + alpha_p * (1 - kept)
        return a * x + b

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return cfg


# --------------------------------------------------------------------------------------
class ActivityRegularization(Layer):
    """Pass inputs through unchanged and add `l1 * sum(|x|) + l2 * sum(x**2)`, divided by
    the batch size, to the training loss.

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).

    Returns (when called):
        The input, unchanged.

    Raises:
        ValueError: if a factor is negative.

    Example:
        >>> layer = ActivityRegularization(l2=0.01)
        >>> layer(jnp.ones((2, 3))).shape
        (2, 3)
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        for arg, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(
                    f"{layer_label(self)}: argument `{arg}` must be a non-negative number, received "
                    f"{arg}={v!r}.")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.supports_masking = True

    def call(self, inputs):
        x = inputs.astype(jnp.result_type(inputs.dtype, jnp.float32))
        penalty = jnp.zeros((), x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * jnp.sum(jnp.square(x))
        if self.l1 or self.l2:
            batch = x.shape[0] if x.ndim > 0 else 1
            self.add_loss(penalty / batch)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"l1": self.l1, "l2": self.l2})
        return cfg


__all__ = ["ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise",
           "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]
