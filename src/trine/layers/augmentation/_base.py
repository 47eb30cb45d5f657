"""Shared plumbing of the augmentation layers: seed, per-call key, training switch, checks.

A layer implements `_augment(images, key)` on a float batch `(batch, h, w, c)` (channels
last; channels_first inputs are moved there and back). Keys come from `Layer.rng_key()`:
under `fit` / `stateless_call(..., rng=key)` they derive from the step key (same seed, same
augmentations, fused or not); eagerly each call draws a new key. At inference
(`training` False or absent) the layer returns its input as float, unless it overrides
`_inference`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer
from trine.core.random import LazySeed
from trine.layers.preprocessing._utils import standardize_data_format


def check_value_range(layer, value_range):
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or any(
            isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in value_range)):
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected value_range to be a pair "
            f"of numbers (low, high), received value_range={value_range!r}. Pass e.g. (0, 255).")
    return sorted(value_range)


def check_factor(layer, factor, bounds=(-1.0, 1.0), arg="factor", zero_low=False):
    """Keras's factor rule: a pair is sorted; a number `f` means `(-f, f)` clipped to the
    lower bound (`(0, f)` with `zero_low`)."""
    def bad():
        return ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected {arg} to be a number or a "
            f"pair of numbers in [{bounds[0]}, {bounds[1]}], received {arg}={factor!r}.")

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or any(isinstance(f, bool) or not isinstance(f, (int, float, np.number))
                                   for f in factor):
            raise bad()
        lo, hi = sorted(float(f) for f in factor)
        if lo < bounds[0] or hi > bounds[1]:
            raise bad()
        return lo, hi
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.number)):
        raise bad()
    if not bounds[0] <= factor <= bounds[1]:
        raise bad()
    f = abs(float(factor))
    return (0.0 if zero_low else max(-f, bounds[0])), f


def to_range(x, src, dst):
    """Map values linearly from range `src` to range `dst`."""
    if tuple(src) == tuple(dst):
        return x
    x = (x - src[0]) / (src[1] - src[0])
    return x * (dst[1] - dst[0]) + dst[0]


class AugmentationLayer(Layer):
    """Base of the augmentation layers (see the module docstring)."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(
                f"{type(self).__name__} layer '{self.name}' expected seed to be an integer or "
                f"None, received seed={seed!r}.")
        self.seed = seed
        if seed is not None:
            self._seed_gen = LazySeed(seed)
        self.data_format = standardize_data_format(self.name, data_format)

    def build(self, input_shape):
        self._seed_gen.index  # take this layer's draw index now, in build order
        self.built = True

    def _key(self):
        key = self.rng_key()
        if self.seed is not None:
            key = jax.random.fold_in(key, int(self.seed) % (2**31))  # different seeds, streams
        return key

    def _images(self, inputs):
        if isinstance(inputs, dict):
            raise TypeError(
                f"{type(self).__name__} layer '{self.name}' received a dict; trine's "
                "augmentation layers take an images array only (no bounding boxes or "
                "segmentation masks yet). Pass the images array.")
        x = jnp.asarray(inputs)
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected images of rank 3 (height, "
                f"width, channels) or a batch of rank 4, received shape {tuple(x.shape)}. Add a "
                "channel axis (x[..., None]) or a batch axis.")
        return x.astype(self.compute_dtype)

    def _channels_last(self, fn, x, *args):
        single = x.ndim == 3
        if single:
            x = x[None]
        if self.data_format == "channels_first":
            x = jnp.moveaxis(x, 1, -1)
        y = fn(x, *args)
        if self.data_format == "channels_first":
            y = jnp.moveaxis(y, -1, 1)
        return y[0] if single else y

    def _inference(self, x):
        return x

    def call(self, inputs, training=False):
        x = self._images(inputs)
        if not training:
            return self._channels_last(self._inference, x)
        return self._channels_last(self._augment, x, self._key())

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"seed": self.seed, "data_format": self.data_format})
        return cfg
